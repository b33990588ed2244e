//! The steward's files as HR really has them (issue 10 "Done when"):
//! through the binary (`input check`, `input record`, then `rank`), files
//! written by real writers — a workbook by rust_xlsxwriter, GBK and GB18030
//! by encoding_rs encoders, UTF-16 by the standard library's UTF-16 encoder
//! — never hand-made bytes. Every encoding of the same data gives the same
//! canonical dataset; the ledger stores the original bytes as they came.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{fails, ok, rankproof, repo, text, World};

/// One crm row: (staff_id, name, region, team, sales_amount, sales_target,
/// prev_sales_amount, leads, deals_won, new_customers, collection_rate).
type CrmRow = [&'static str; 11];

const CRM: [CrmRow; 6] = [
    [
        "E01",
        "赵婷",
        "华南",
        "华南一组",
        "219600.5",
        "360000",
        "417600",
        "40",
        "12",
        "30",
        "0.9592",
    ],
    [
        "E02",
        "周佳琪",
        "西南",
        "西南一组",
        "564400",
        "680000",
        "999600",
        "50",
        "10",
        "5",
        "0.9893",
    ],
    [
        "E03",
        "王伟",
        "华东",
        "华东二组",
        "300000",
        "300000",
        "250000",
        "20",
        "9",
        "7",
        "0.75",
    ],
    [
        "E04",
        "李娜",
        "华北",
        "华北一组",
        "120000",
        "200000",
        "0",
        "0",
        "0",
        "2",
        "1",
    ],
    [
        "E05",
        "陈静",
        "华东",
        "华东一组",
        "450000.25",
        "400000",
        "380000",
        "35",
        "20",
        "11",
        "0.88",
    ],
    [
        "E06",
        "刘洋",
        "西北",
        "西北一组",
        "80000",
        "150000",
        "90000",
        "12",
        "3",
        "1",
        "0.6",
    ],
];

const CRM_HEADER: [&str; 11] = [
    "staff_id",
    "name",
    "region",
    "team",
    "sales_amount",
    "sales_target",
    "prev_sales_amount",
    "leads",
    "deals_won",
    "new_customers",
    "collection_rate",
];

/// The Chinese export's header: aliases, unit labels and a remarks column.
const CRM_HEADER_ZH: [&str; 12] = [
    "员工编号",
    "姓名",
    "区域",
    "团队",
    "销售额（元）",
    "销售目标",
    "上期销售额",
    "线索数",
    "成交数",
    "新客户数",
    "回款率(%)",
    "备注",
];

const SURVEY: &str = "staff_id,csat,nps,complaints,complaints_resolved_72h\n\
E01,4.5,30,1,1\nE02,4.1,10,2,1\nE03,3.9,-5,0,0\nE04,4.8,60,0,0\nE05,4.2,20,3,3\nE06,3.2,-20,4,1\n";

const OA: &str = "staff_id,collaboration,knowledge_shares,mentoring,innovations_adopted,training_score\n\
E01,80,3,70,1,90\nE02,65.5,1,50,0,75\nE03,90,6,85,2,88\nE04,55,0,40,0,60\nE05,72,2,66,1,81\nE06,40,0,20,0,55\n";

/// The plain export: English headers, UTF-8, LF, comma separated.
fn crm_plain() -> String {
    let mut s = CRM_HEADER.join(",") + "\n";
    for r in CRM {
        s += &r.join(",");
        s += "\n";
    }
    s
}

/// The Chinese export as Excel writes it: aliases with units, a 备注
/// column, the collection rate as a percentage cell (`95.92%`), a 合计 row.
fn crm_zh(sep: &str, eol: &str) -> String {
    let mut s = CRM_HEADER_ZH.join(sep) + eol;
    for r in CRM {
        let mut cells: Vec<String> = r.iter().map(|c| c.to_string()).collect();
        cells[10] = percent(r[10]);
        cells.push(format!("{}的备注", r[1]));
        s += &cells.join(sep);
        s += eol;
    }
    // The 合计 row carries the column's sum, as the export writes it.
    s += &["合计", "", "", "", "1734000.75", "", "", "", "", "", "", ""].join(sep);
    s += eol;
    s
}

/// `0.9592` as a percentage cell, `95.92%` (exact, by moving the point).
fn percent(fraction: &str) -> String {
    let (int, frac) = fraction.split_once('.').unwrap_or((fraction, ""));
    let frac = format!("{frac:0<2}");
    let (two, rest) = frac.split_at(2);
    let whole = format!("{int}{two}").trim_start_matches('0').to_owned();
    let whole = if whole.is_empty() {
        "0".to_owned()
    } else {
        whole
    };
    if rest.is_empty() {
        format!("{whole}%")
    } else {
        format!("{whole}.{rest}%")
    }
}

/// A copy of marketing-v1 whose crm source declares the units, the 备注
/// column and the 合计 row, and (with `exclude`) `[join] missing_staff =
/// "exclude"` (its refusal case then no longer applies and is removed).
fn steward_package(dir: &Path, exclude: bool) -> String {
    let pkg = dir.join("pkg");
    crate::support::copy_dir(&repo().join("rules/marketing-v1"), &pkg);
    let manifest = pkg.join("package.toml");
    let mut m = fs::read_to_string(&manifest).expect("manifest");
    let first_crm = "# ---- crm: CRM export";
    assert!(m.contains(first_crm));
    m = m.replacen(
        first_crm,
        "[sources.crm]\nignore_columns = [\"备注\"]\ntotal_row = \"skip\"\n\n# ---- crm: CRM export",
        1,
    );
    for (alias, units) in [("\"销售额\"]", "[\"元\"]"), ("\"回款率\"]", "[\"%\"]")] {
        assert!(m.contains(alias));
        m = m.replacen(alias, &format!("{alias}\nunits = {units}"), 1);
    }
    if exclude {
        m = m.replacen(
            "[ranking]",
            "[join]\nmissing_staff = \"exclude\"\n\n[ranking]",
            1,
        );
        fs::remove_dir_all(pkg.join("tests/error-staff-missing")).expect("remove the case");
    }
    fs::write(&manifest, m).expect("write manifest");
    pkg.to_str().expect("utf-8").to_owned()
}

fn world(exclude: bool) -> World {
    let w = World::new("files.example/ledger");
    let pkg = steward_package(w.dir(), exclude);
    ok(w.dir(), &["rules", "publish", "--signer", "hr.key", &pkg]);
    w
}

fn write(w: &World, name: &str, bytes: &[u8]) -> String {
    fs::write(w.dir().join(name), bytes).expect("write file");
    name.to_owned()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex_of(&Sha256::digest(bytes))
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn check(w: &World, source: &str, file: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["input", "check", "--period", "2025-Q1", "--source", source];
    args.extend_from_slice(extra);
    args.push(file);
    rankproof(w.dir(), &args)
}

fn record(w: &World, source: &str, file: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "input",
        "record",
        "--signer",
        "steward.key",
        "--period",
        "2025-Q1",
        "--source",
        source,
    ];
    args.extend_from_slice(extra);
    args.push(file);
    rankproof(w.dir(), &args)
}

/// The dataset hash printed by `input check` / `input record`.
fn dataset_of(out: &str) -> String {
    out.split("dataset ")
        .nth(1)
        .and_then(|s| s.get(..64))
        .unwrap_or_else(|| panic!("no dataset hash in:\n{out}"))
        .to_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn gbk(s: &str) -> Vec<u8> {
    let (b, _, unmappable) = encoding_rs::GBK.encode(s);
    assert!(!unmappable, "GBK encodes the test data");
    b.into_owned()
}

fn gb18030(s: &str) -> Vec<u8> {
    let (b, _, unmappable) = encoding_rs::GB18030.encode(s);
    assert!(!unmappable);
    b.into_owned()
}

/// Excel's "Unicode text": UTF-16LE with a byte order mark, tab separated.
fn utf16le_bom(s: &str) -> Vec<u8> {
    let mut b = vec![0xFF, 0xFE];
    for u in s.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b
}

/// The Chinese export as a workbook (a cover sheet first, the data on
/// sheet 销售): numbers as numbers, the collection rate as a percentage
/// cell holding the fraction, a 合计 row with a SUM formula.
fn crm_xlsx() -> Vec<u8> {
    use rust_xlsxwriter::{Format, Formula, Workbook};
    let mut wb = Workbook::new();
    let cover = wb.add_worksheet();
    cover.set_name("说明").expect("name");
    cover.write_string(0, 0, "CRM 导出").expect("cell");
    let ws = wb.add_worksheet();
    ws.set_name("销售").expect("name");
    for (c, h) in CRM_HEADER_ZH.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("cell");
    }
    let pct = Format::new().set_num_format("0.00%");
    for (i, r) in CRM.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, v) in r.iter().enumerate() {
            let col = c as u16;
            if c < 4 {
                ws.write_string(row, col, *v).expect("cell");
            } else {
                let x: f64 = v.parse().expect("number");
                if c == 10 {
                    ws.write_number_with_format(row, col, x, &pct)
                        .expect("cell");
                } else {
                    ws.write_number(row, col, x).expect("cell");
                }
            }
        }
        ws.write_string(row, 11, format!("{}的备注", r[1]))
            .expect("cell");
    }
    ws.write_string(7, 0, "合计").expect("cell");
    ws.write_formula(7, 4, Formula::new("=SUM(E2:E7)").set_result("1734000.75"))
        .expect("cell");
    wb.save_to_buffer().expect("xlsx")
}

#[test]
fn every_encoding_and_layout_of_one_export_is_one_dataset() {
    let w = world(false);
    let plain = write(&w, "crm.csv", crm_plain().as_bytes());
    let o = check(&w, "crm", &plain, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("read CSV as UTF-8 (valid UTF-8), comma separated, 6 rows"),
        "{out}"
    );
    assert!(
        out.contains("crm.csv is valid for 2025-Q1/crm: 6 rows"),
        "{out}"
    );
    assert!(out.contains("validated against marketing@1.0.0"), "{out}");
    assert!(out.contains("nothing recorded"), "{out}");
    let want = dataset_of(&out);

    let zh = crm_zh(",", "\n");
    let zh_tab_crlf = crm_zh("\t", "\r\n");
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(zh.as_bytes());
    let variants: Vec<(&str, Vec<u8>, Vec<&str>, &str)> = vec![
        (
            "crm-gbk.csv",
            gbk(&zh),
            vec![],
            "read CSV as GB18030 (not valid UTF-8), comma separated, 6 rows; ignored column 备注; skipped total row 合计 (line 8)",
        ),
        (
            "crm-gbk-asked.csv",
            gbk(&zh),
            vec!["--encoding", "gbk"],
            "read CSV as GBK (as asked)",
        ),
        (
            "crm-gb18030.csv",
            gb18030(&crm_zh(",", "\r\n")),
            vec![],
            "read CSV as GB18030 (not valid UTF-8), comma separated, 6 rows",
        ),
        (
            "crm-unicode.txt",
            utf16le_bom(&zh_tab_crlf),
            vec![],
            "read CSV as UTF-16LE (byte order mark), tab separated, 6 rows; ignored column 备注; skipped total row 合计 (line 8)",
        ),
        (
            "crm-bom.csv",
            bom,
            vec![],
            "read CSV as UTF-8 (byte order mark), comma separated, 6 rows",
        ),
        (
            "crm.xlsx",
            crm_xlsx(),
            vec!["--sheet", "销售"],
            "read xlsx workbook, sheet `销售`, 6 rows; ignored column 备注; skipped total row 合计",
        ),
    ];
    for (name, bytes, extra, report) in &variants {
        let f = write(&w, name, bytes);
        let o = check(&w, "crm", &f, extra);
        assert!(o.status.success(), "{name}: {}", text(&o));
        let out = stdout(&o);
        assert!(out.contains(report), "{name}: want `{report}` in:\n{out}");
        assert_eq!(
            dataset_of(&out),
            want,
            "{name}: the canonical dataset differs"
        );
    }

    // Record the GBK file: the ledger keeps its bytes as they came, and the
    // dataset is the plain file's.
    let (_, gbk_bytes, _, _) = &variants[0];
    let o = record(&w, "crm", "crm-gbk.csv", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("read CSV as GB18030 (not valid UTF-8)"),
        "{out}"
    );
    assert!(out.contains("recorded 2025-Q1/crm as entry"), "{out}");
    // The recorded dataset is these rows under a fresh secret salt: its
    // hash is not the unsalted one `input check` printed.
    let salted = dataset_of(&out);
    assert_ne!(salted, want);
    let list: Value =
        serde_json::from_str(&ok(w.dir(), &["input", "list", "--format", "json"])).expect("json");
    let rec = &list[0];
    assert_eq!(rec["file"]["sha256"], Value::from(sha256_hex(gbk_bytes)));
    assert_eq!(rec["file"]["bytes"], Value::from(gbk_bytes.len() as u64));
    assert_eq!(rec["file"]["name"], "crm-gbk.csv");
    assert_eq!(rec["dataset"], Value::from(salted.clone()));
    let entry = rec["entry"].as_u64().expect("entry");
    // The stored original is byte for byte the file (the bundle's blob).
    ok(w.dir(), &["export", "--out", "bundle"]);
    let blob = fs::read(w.dir().join("bundle/blobs").join(sha256_hex(gbk_bytes))).expect("blob");
    assert_eq!(&blob, gbk_bytes);
    // The recorded schema is the full declaration: units, aliases, bounds,
    // the ignored column and the total-row rule.
    let entries = fs::read_to_string(w.dir().join("bundle/entries.jsonl")).expect("entries");
    let body: Value = entries
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["seq"].as_u64() == Some(entry))
        .map(|e| e["body"].clone())
        .expect("the input.record entry");
    let schema = &body["schema"];
    assert_eq!(schema["ignore_columns"], serde_json::json!(["备注"]));
    assert_eq!(schema["total_row"], "skip");
    let col = |n: &str| {
        schema["columns"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == n))
            .cloned()
            .expect("column")
    };
    assert_eq!(col("sales_amount")["units"], serde_json::json!(["元"]));
    assert_eq!(
        col("sales_amount")["aliases"],
        serde_json::json!(["销售额"])
    );
    assert_eq!(col("sales_amount")["ge"], "0");
    assert_eq!(col("collection_rate")["units"], serde_json::json!(["%"]));
    assert_eq!(col("collection_rate")["le"], "1");
    assert_eq!(col("sales_target")["gt"], "0");
    assert_eq!(col("deals_won")["le_column"], "leads");

    // Every other encoding is now "already recorded".
    for (name, _, extra, _) in &variants[1..] {
        let o = check(&w, "crm", name, extra);
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert!(
            stdout(&o).contains(&format!(
                "this dataset is already recorded as entry {entry}; nothing recorded"
            )),
            "{name}: {}",
            text(&o)
        );
        let o = record(&w, "crm", name, extra);
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert!(stdout(&o).contains("already recorded"), "{}", text(&o));
    }

    // And the ranking of the period is computed from it.
    write(&w, "survey.csv", SURVEY.as_bytes());
    write(&w, "oa.csv", OA.as_bytes());
    for s in ["survey", "oa"] {
        let o = record(&w, s, &format!("{s}.csv"), &[]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let r: Value = serde_json::from_str(&ok(
        w.dir(),
        &[
            "rank",
            "--period",
            "2025-Q1",
            "--rules",
            "marketing@1.0.0",
            "--format",
            "json",
        ],
    ))
    .expect("json");
    assert_eq!(r["n"], 6);
    assert_eq!(r["inputs"]["crm"]["sha256"], Value::from(salted));
    assert!(
        r.get("excluded").is_none(),
        "no excluded member under refuse"
    );
}

#[test]
fn every_problem_of_a_crlf_file_at_once_with_right_lines() {
    let w = world(false);
    // Written as Excel writes CSV (CRLF); three bad cells on lines 3, 5, 6.
    let mut rows: Vec<Vec<String>> = CRM
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    rows[1][10] = "1.2".into(); // line 3: collection_rate out of [0, 1]
    rows[3][4] = "12万".into(); // line 5: sales_amount not a decimal
    rows[4][8] = "36".into(); // line 6: deals_won 36 exceeds leads 35
    let mut s = CRM_HEADER.join(",") + "\r\n";
    for r in &rows {
        s += &r.join(",");
        s += "\r\n";
    }
    write(&w, "crm.csv", s.as_bytes());
    for o in [
        check(&w, "crm", "crm.csv", &[]),
        record(&w, "crm", "crm.csv", &[]),
    ] {
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        for want in [
            "crm.csv: line 3, column `collection_rate`: 1.2 is outside the allowed range [0, 1]",
            "crm.csv: line 5, column `sales_amount`: `12万`",
            "crm.csv: line 6, column `deals_won`: 36 exceeds `leads` (35) in the same row",
        ] {
            assert!(err.contains(want), "want `{want}` in:\n{err}");
        }
        assert_eq!(err.matches("crm.csv: line ").count(), 3, "{err}");
        // How it was read is said first, as for a clean file.
        assert!(
            stdout(&o).contains("crm.csv: read CSV as UTF-8 (valid UTF-8), comma separated"),
            "{}",
            text(&o)
        );
    }
    // The same problems in the GBK export say it was read as GB18030.
    let good = crm_zh(",", "\r\n");
    let bad = good.replacen(&percent("0.9893"), "120%", 1);
    assert_ne!(bad, good);
    write(&w, "crm-gbk.csv", &gbk(&bad));
    let o = check(&w, "crm", "crm-gbk.csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stdout(&o).contains("crm-gbk.csv: read CSV as GB18030 (not valid UTF-8), comma separated"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("crm-gbk.csv: line 3, column `collection_rate`: "),
        "{}",
        text(&o)
    );
    // Nothing was recorded.
    let list = ok(w.dir(), &["input", "list", "--format", "json"]);
    assert_eq!(list.trim(), "[]");
}

#[test]
fn the_package_is_chosen_and_must_be_published_and_in_effect() {
    let w = world(false);
    write(&w, "crm.csv", crm_plain().as_bytes());
    let o = check(&w, "crm", "crm.csv", &["--rules", "marketing@1.0.0"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = fails(
        w.dir(),
        &[
            "input",
            "check",
            "--period",
            "2025-Q1",
            "--source",
            "crm",
            "--rules",
            "marketing@9.9.9",
            "crm.csv",
        ],
        2,
    );
    assert!(
        err.contains("no published rule package marketing@9.9.9; published: marketing@1.0.0"),
        "{err}"
    );
    let err = fails(
        w.dir(),
        &[
            "input",
            "check",
            "--period",
            "2024-12",
            "--source",
            "crm",
            "--rules",
            "marketing@1.0.0",
            "crm.csv",
        ],
        2,
    );
    assert!(
        err.contains("marketing@1.0.0 is in effect from 2025-01; period 2024-12 is outside it"),
        "{err}"
    );
    let err = fails(
        w.dir(),
        &[
            "input", "check", "--period", "2025-Q1", "--source", "hr", "crm.csv",
        ],
        2,
    );
    assert!(
        err.contains("no published rule package in effect for 2025-Q1 names a source `hr`"),
        "{err}"
    );
}

/// crm and survey hold E01..E06; oa lacks E04.
fn record_all_but_e04_in_oa(w: &World) -> std::process::Output {
    write(w, "crm.csv", crm_plain().as_bytes());
    write(w, "survey.csv", SURVEY.as_bytes());
    let oa: String = OA
        .lines()
        .filter(|l| !l.starts_with("E04,"))
        .map(|l| format!("{l}\n"))
        .collect();
    write(w, "oa.csv", oa.as_bytes());
    for s in ["crm", "survey"] {
        let o = record(w, s, &format!("{s}.csv"), &[]);
        assert!(o.status.success(), "{}", text(&o));
    }
    check(w, "oa", "oa.csv", &[])
}

#[test]
fn a_staff_member_missing_from_a_source_is_refused_by_default() {
    let w = world(false);
    let o = record_all_but_e04_in_oa(&w);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    // Named where the recorded crm file has them: its own line 5.
    let crm_entry = ok(w.dir(), &["input", "list", "--format", "json"]);
    let crm_entry: Value = serde_json::from_str(&crm_entry).expect("json");
    let crm_entry = crm_entry[0]["entry"].as_u64().expect("entry");
    assert!(
        err.contains(&format!(
            "staff `E04` (found in crm: crm.csv (entry {crm_entry}) line 5) is missing from source `oa`"
        )),
        "{err}"
    );
    assert!(err.contains("missing_staff = \"exclude\""), "{err}");
    let o = record(&w, "oa", "oa.csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("staff `E04`"), "{}", text(&o));
}

#[test]
fn a_staff_member_missing_from_a_source_is_excluded_and_recorded_as_such() {
    let w = world(true);
    let o = record_all_but_e04_in_oa(&w);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("1 staff missing from another source are not eligible this period"),
        "{out}"
    );
    assert!(out.contains("E04 (missing from oa)"), "{out}");
    assert!(
        out.contains("checked against the sources recorded for 2025-Q1: crm (entry"),
        "{out}"
    );
    let o = record(&w, "oa", "oa.csv", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("E04 (missing from oa)"), "{}", text(&o));

    let published: Value = serde_json::from_str(&ok(
        w.dir(),
        &[
            &crate::support::publish_args("operator.key")[..],
            &["--format", "json"],
        ]
        .concat(),
    ))
    .expect("json");
    let id = published["ranking"].as_u64().expect("ranking").to_string();
    assert_eq!(published["n"], 5);
    assert_eq!(
        published["excluded"],
        serde_json::json!([{"missing_from": ["oa"], "staff_id": "E04"}])
    );
    assert_eq!(published["inputs"]["crm"]["n_rows"], 6);
    let ids: Vec<&str> = published["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["staff_id"].as_str())
        .collect();
    assert!(!ids.contains(&"E04"), "{ids:?}");

    let show = ok(w.dir(), &["ranking", "show", &id]);
    assert!(
        show.contains("excluded as not eligible ([join] missing_staff = \"exclude\"):"),
        "{show}"
    );
    assert!(
        show.lines().any(|l| l.contains("E04") && l.contains("oa")),
        "{show}"
    );
    let err = fails(w.dir(), &["explain", "--ranking", &id, "--staff", "E04"], 2);
    assert!(
        err.contains(&format!(
            "staff E04 is not in ranking {id}: excluded as not eligible, missing from source oa"
        )),
        "{err}"
    );

    // It verifies and replays byte for byte.
    ok(w.dir(), &["verify"]);
    ok(w.dir(), &["replay", "--ranking", &id]);

    // The independent Python oracle agrees on the results and the exclusion.
    let oracle = repo().join("tests/oracle");
    let o = Command::new("python3")
        .arg(oracle.join("marketing.py"))
        .args([
            "--crm",
            "crm.csv",
            "--survey",
            "survey.csv",
            "--oa",
            "oa.csv",
        ])
        .args(["--missing-staff", "exclude"])
        .current_dir(w.dir())
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", text(&o));
    let expected: Value = serde_json::from_slice(&o.stdout).expect("oracle json");
    assert_eq!(expected["excluded"], published["excluded"]);
    fs::write(w.dir().join("oracle.json"), &o.stdout).expect("write");
    fs::write(
        w.dir().join("rust.json"),
        serde_json::to_vec(&published).expect("json"),
    )
    .expect("write");
    let o = Command::new("python3")
        .arg(oracle.join("compare.py"))
        .args(["oracle.json", "rust.json"])
        .current_dir(w.dir())
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "oracle and engine differ:\n{}",
        text(&o)
    );

    // The independent bundle verifier checks the exclusion against the
    // recorded datasets.
    ok(w.dir(), &["export", "--out", "bundle"]);
    let o = Command::new("python3")
        .arg(oracle.join("verify_bundle.py"))
        .args(["bundle", "--log-vkey", &w.log_vkey])
        .current_dir(w.dir())
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn unknown_headers_and_lookalike_ids_are_named_all_at_once() {
    let w = world(false);
    // Two unknown labels: one a typo of an alias, one unrelated.
    let s = crm_zh(",", "\n")
        .replacen("销售目标", "销售目票", 1)
        .replacen("备注", "Remarks", 1);
    write(&w, "crm-headers.csv", &gbk(&s));
    let o = check(&w, "crm", "crm-headers.csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("crm-headers.csv: line 1: unknown columns `销售目票` (did you mean `销售目标`?), `Remarks` for source `crm`; accepted headers: staff_id (员工编号, 工号)"),
        "{err}"
    );
    assert!(
        err.contains("sales_amount (销售额; units 元)"),
        "units are listed: {err}"
    );
    assert!(
        err.contains(
            "missing required column `sales_target` (accepted headers: sales_target, 销售目标)"
        ),
        "{err}"
    );

    // IDs that differ from the recorded ones only by case or width.
    write(&w, "crm.csv", crm_plain().as_bytes());
    let o = record(&w, "crm", "crm.csv", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let survey = SURVEY
        .replacen("E01,", "e01,", 1)
        .replacen("E02,", "Ｅ02,", 1);
    write(&w, "survey.csv", survey.as_bytes());
    let o = check(&w, "survey", "survey.csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    for id in ["e01", "Ｅ02"] {
        assert!(
            err.lines().any(|l| l.contains(&format!("`{id}`"))
                && l.contains("differ only by letter case or full-/half-width characters")),
            "{id}: {err}"
        );
    }
}
