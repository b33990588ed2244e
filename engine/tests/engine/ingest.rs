//! Files as HR has them: workbooks written by a spreadsheet library,
//! GBK/GB18030 and UTF-16 bytes written by encoders, extra columns, unit
//! labels, every problem of a file at once, line endings, hostile cells,
//! the canonical fast path and the checks across sources.

use std::collections::BTreeMap;

use rankproof_engine::read::{EncodingSource, InputFormat, InputLimits, ReadOptions, TextEncoding};
use rankproof_engine::{
    cross_check, CrossProblem, Dataset, DatasetError, DatasetProblems, Loc, MissingStaff,
    RulePackage, SourceSchema,
};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::common::{package, read_dir, repo};

const CRM_ZH: &str =
    "员工编号,姓名,区域,团队,销售额,销售目标,上期销售额,线索数,成交数,新客户数,回款率";

/// marketing-v1 with the steward declarations of this file's cases.
fn steward_package() -> RulePackage {
    let mut files = read_dir(&repo().join("rules/marketing-v1"));
    let m = String::from_utf8(files["package.toml"].clone()).unwrap();
    let edited = m
        .replacen(
            "[[sources.crm.columns]]",
            "[sources.crm]\nignore_columns = [\"备注\", \"序号*\"]\nempty_rows = \"skip\"\ntotal_row = \"skip\"\n\n[[sources.crm.columns]]",
            1,
        )
        .replace("aliases = [\"销售额\"]", "aliases = [\"销售额\"]\nunits = [\"元\"]")
        .replace("aliases = [\"回款率\"]", "aliases = [\"回款率\"]\nunits = [\"%\"]");
    assert_ne!(edited, m);
    files.insert(
        "package.toml".into(),
        format!("{edited}\n[join]\nmissing_staff = \"exclude\"\n").into_bytes(),
    );
    RulePackage::from_files(files).unwrap()
}

fn crm() -> SourceSchema {
    steward_package().source("crm").unwrap().clone()
}

fn plain_crm() -> SourceSchema {
    package("marketing-v1").source("crm").unwrap().clone()
}

fn read(
    schema: &SourceSchema,
    name: &str,
    bytes: &[u8],
) -> Result<(Dataset, rankproof_engine::ReadReport), DatasetProblems> {
    Dataset::read(bytes, name, &ReadOptions::default(), schema)
}

fn crm_text() -> String {
    format!(
        "{CRM_ZH}\nE2,王伟,华东,华东一组,100.50,100,0,0,0,0,1\nE1,李娜,华南,华南一组,200,100,0,3,1,2,0.95\n"
    )
}

fn utf8_canonical() -> Vec<u8> {
    read(&plain_crm(), "crm.csv", crm_text().as_bytes())
        .unwrap()
        .0
        .canonical_bytes()
}

#[test]
fn gbk_and_gb18030_exports_are_detected_and_reported() {
    let text = crm_text();
    for enc in [encoding_rs::GBK, encoding_rs::GB18030] {
        let (bytes, _, unmappable) = enc.encode(&text);
        assert!(!unmappable);
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "the encoder wrote non-UTF-8 bytes"
        );
        let (d, report) = read(&plain_crm(), "crm.csv", &bytes).unwrap();
        assert_eq!(
            report.encoding,
            Some((TextEncoding::Gb18030, EncodingSource::NotUtf8))
        );
        assert!(
            report
                .to_string()
                .starts_with("read CSV as GB18030 (not valid UTF-8), comma separated, 2 rows"),
            "{report}"
        );
        assert_eq!(d.canonical_bytes(), utf8_canonical());
        // Named explicitly.
        let opts = ReadOptions {
            encoding: Some(TextEncoding::Gbk),
            ..ReadOptions::default()
        };
        let (d, report) = Dataset::read(&bytes, "crm.csv", &opts, &plain_crm()).unwrap();
        assert_eq!(
            report.encoding,
            Some((TextEncoding::Gbk, EncodingSource::Forced))
        );
        assert_eq!(d.canonical_bytes(), utf8_canonical());
    }
    // A character only GB18030 has (four bytes), in a name.
    let text = crm_text().replace("王伟", "王𠀀");
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&text);
    assert!(!unmappable);
    let (d, _) = read(&plain_crm(), "crm.csv", &bytes).unwrap();
    assert!(String::from_utf8(d.canonical_bytes())
        .unwrap()
        .contains("王𠀀"));
    // Bytes that are neither.
    let mut bad = crm_text().into_bytes();
    bad.extend_from_slice(b"E\xff3,x,x,x,1,1,0,0,0,0,1\n");
    let e = read(&plain_crm(), "crm.csv", &bad).unwrap_err().to_string();
    assert!(
        e.starts_with("crm.csv: line 4: not valid UTF-8, nor GB18030/GBK (byte 0xff)"),
        "{e}"
    );
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for u in text.encode_utf16() {
        let b = if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        };
        out.extend_from_slice(&b);
    }
    out
}

#[test]
fn utf16_unicode_text_tab_separated_with_crlf() {
    // Excel's "Unicode text": UTF-16LE with BOM, tab separated, CRLF.
    let text = crm_text().replace(',', "\t").replace('\n', "\r\n");
    for be in [false, true] {
        let bytes = utf16(&text, be);
        let (d, report) = read(&plain_crm(), "crm.txt", &bytes).unwrap();
        let want = if be {
            TextEncoding::Utf16Be
        } else {
            TextEncoding::Utf16Le
        };
        assert_eq!(report.encoding, Some((want, EncodingSource::Bom)));
        assert_eq!(report.delimiter, Some(b'\t'));
        assert_eq!(d.canonical_bytes(), utf8_canonical());
    }
    // A bad value is on the right line.
    let text = text.replace("200\t100", "2x0\t100");
    let e = read(&plain_crm(), "crm.txt", &utf16(&text, false))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("crm.txt: line 3, column `sales_amount`: `2x0` is not a decimal"),
        "{e}"
    );
    // UTF-8 with a BOM, and a BOM that contradicts the named encoding.
    let mut b = b"\xEF\xBB\xBF".to_vec();
    b.extend_from_slice(crm_text().as_bytes());
    let (_, report) = read(&plain_crm(), "crm.csv", &b).unwrap();
    assert_eq!(
        report.encoding,
        Some((TextEncoding::Utf8, EncodingSource::Bom))
    );
    let opts = ReadOptions {
        encoding: Some(TextEncoding::Gbk),
        ..ReadOptions::default()
    };
    let e = Dataset::read(&b, "crm.csv", &opts, &plain_crm())
        .unwrap_err()
        .to_string();
    assert!(e.contains("byte order mark but GBK was asked for"), "{e}");
}

fn crm_workbook(edit: impl Fn(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut wb = Workbook::new();
    let cover = wb.add_worksheet();
    cover.set_name("说明").unwrap();
    cover.write_string(0, 0, "本表为 CRM 导出").unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("销售").unwrap();
    let header = [
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
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let pct = Format::new().set_num_format("0.0%");
    // E1: the ID typed as a number, money with cents, a percentage cell.
    ws.write_number(1, 0, 1001).unwrap();
    ws.write_string(1, 1, "李娜").unwrap();
    ws.write_string(1, 2, "华南").unwrap();
    ws.write_string(1, 3, "华南一组").unwrap();
    ws.write_number(1, 4, 1234.56).unwrap();
    ws.write_number(1, 5, 1000).unwrap();
    ws.write_number(1, 6, 0).unwrap();
    ws.write_number(1, 7, 3).unwrap();
    ws.write_number(1, 8, 1).unwrap();
    ws.write_number(1, 9, 2).unwrap();
    ws.write_number_with_format(1, 10, 0.955, &pct).unwrap();
    ws.write_string(1, 11, "新人").unwrap();
    // E2: text cells throughout.
    for (c, v) in [
        "E2",
        "王伟",
        "华东",
        "华东一组",
        "100.5",
        "100",
        "0",
        "0",
        "0",
        "0",
        "1",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(2, c as u16, *v).unwrap();
    }
    edit(ws);
    wb.save_to_buffer().unwrap()
}

#[test]
fn xlsx_written_by_a_spreadsheet_library() {
    let bytes = crm_workbook(|_| {});
    let schema = crm();
    // The first sheet is the cover: its header is unknown.
    let e = read(&schema, "crm.xlsx", &bytes).unwrap_err().to_string();
    assert!(
        e.contains("crm.xlsx: sheet row 1: unknown column `本表为 CRM 导出`"),
        "{e}"
    );
    let opts = ReadOptions {
        sheet: Some("销售".into()),
        ..ReadOptions::default()
    };
    let (d, report) = Dataset::read(&bytes, "crm.xlsx", &opts, &schema).unwrap();
    assert_eq!(
        report.format,
        InputFormat::Workbook {
            kind: "xlsx",
            sheet: "销售".into()
        }
    );
    assert_eq!(report.ignored_columns, ["备注"]);
    assert_eq!(
        report.to_string(),
        "read xlsx workbook, sheet `销售`, 2 rows; ignored column 备注"
    );
    let canon = String::from_utf8(d.canonical_bytes()).unwrap();
    assert!(
        canon.contains(r#""collection_rate":"0.955","deals_won":1"#),
        "{canon}"
    );
    assert!(canon.contains(r#""sales_amount":"1234.56""#), "{canon}");
    assert!(canon.contains(r#""staff_id":"1001""#), "{canon}");
    assert_eq!(d.loc(0), Some(Loc::SheetRow(2)));
    // A missing sheet names the sheets there are.
    let opts = ReadOptions {
        sheet: Some("Sheet1".into()),
        ..ReadOptions::default()
    };
    let e = Dataset::read(&bytes, "crm.xlsx", &opts, &schema)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "crm.xlsx: the workbook has no sheet `Sheet1`; its sheets are: `说明`, `销售`"
    );
}

#[test]
fn xlsx_cells_name_their_letter_and_refuse_dates_and_float_artefacts() {
    let bytes = crm_workbook(|ws| {
        let date = Format::new().set_num_format("yyyy-mm-dd");
        ws.write_datetime_with_format(1, 5, ExcelDateTime::from_ymd(2025, 3, 1).unwrap(), &date)
            .unwrap();
        ws.write_number(2, 4, 0.1 + 0.2).unwrap();
        ws.write_number(2, 7, 2.5).unwrap();
    });
    let opts = ReadOptions {
        sheet: Some("销售".into()),
        ..ReadOptions::default()
    };
    let e = Dataset::read(&bytes, "crm.xlsx", &opts, &crm()).unwrap_err();
    let lines: Vec<String> = e.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(lines.len(), 3, "{e}");
    assert!(lines[0].starts_with("crm.xlsx: cell F2, column `sales_target`: the cell is a date (2025-03-01), not a number"), "{}", lines[0]);
    assert!(lines[1].starts_with("crm.xlsx: cell E3, column `sales_amount`: the cell holds 0.30000000000000004, which has more than 15 significant digits"), "{}", lines[1]);
    assert_eq!(lines[2], "crm.xlsx: cell H3, column `leads`: `2.5` is not an integer (write digits with an optional `-`)");
    // Something that is not a workbook but named like one.
    let e = read(&crm(), "crm.xlsx", b"staff_id\nE1\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("crm.xlsx: cannot be read as an xlsx workbook"),
        "{e}"
    );
}

#[test]
fn extra_columns_are_listed_at_once_with_hints_unless_declared() {
    let text = "员工编号,姓名,区域,团队,销售颔,销售目标,上期销售额,线索数,成交数,新客户数,回款率,备注,Remarks\nE1,李娜,华南,一组,1,1,0,0,0,0,1,x,y\n";
    let e = read(&plain_crm(), "crm.csv", text.as_bytes()).unwrap_err();
    let all = e.to_string();
    assert!(all.contains("crm.csv: line 1: unknown columns `销售颔` (did you mean `销售额`?), `备注`, `Remarks` for source `crm`; accepted headers: staff_id (员工编号, 工号), name (姓名)"), "{all}");
    assert!(
        all.contains("missing required column `sales_amount`"),
        "{all}"
    );
    // Declared in ignore_columns (and a pattern): accepted, and reported.
    let text = format!("序号,{CRM_ZH},备注\n1,E1,李娜,华南,一组,1,1,0,0,0,0,1,新人\n");
    let (d, report) = read(&crm(), "crm.csv", text.as_bytes()).unwrap();
    assert_eq!(d.n_rows(), 1);
    assert_eq!(report.ignored_columns, ["序号", "备注"]);
}

#[test]
fn unit_labels_in_full_and_half_width_parentheses() {
    let header = CRM_ZH
        .replace(",销售额,", ",销售额（元）,")
        .replace("回款率", "回款率(%)");
    let text = format!("{header}\nE1,李娜,华南,一组,1234.5,100,0,0,0,0,95.5%\nE2,王伟,华东,一组,10,100,0,0,0,0,0.9\n");
    let (d, _) = read(&crm(), "crm.csv", text.as_bytes()).unwrap();
    let canon = String::from_utf8(d.canonical_bytes()).unwrap();
    assert!(
        canon.contains(r#""collection_rate":"0.955""#),
        "a `95.5%` cell is exactly 0.955: {canon}"
    );
    assert!(
        canon.contains(r#""collection_rate":"0.9""#),
        "a unit is a label; 0.9 stays 0.9: {canon}"
    );
    // Half-width parentheses for 元, full-width for %.
    let header = CRM_ZH
        .replace(",销售额,", ",销售额(元),")
        .replace("回款率", "回款率（％）");
    let text = format!("{header}\nE1,李娜,华南,一组,1,100,0,0,0,0,1\n");
    assert!(read(&crm(), "crm.csv", text.as_bytes()).is_ok());
    // A unit the column does not declare is refused (万元 is not 元).
    let header = CRM_ZH.replace(",销售额,", ",销售额（万元）,");
    let text = format!("{header}\nE1,李娜,华南,一组,1,100,0,0,0,0,1\n");
    let e = read(&crm(), "crm.csv", text.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1: header `销售额（万元）` carries the unit `万元`, but column `sales_amount` accepts only 元"), "{e}");
    // A percentage cell without a declared `%` unit.
    let text = format!("{CRM_ZH}\nE1,李娜,华南,一组,1,100,0,0,0,0,95%\n");
    let e = read(&plain_crm(), "crm.csv", text.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "`95%` is a percentage, but column `collection_rate` does not declare the unit `%`"
        ),
        "{e}"
    );
}

#[test]
fn three_errors_in_one_file_are_reported_together() {
    let text = format!(
        "{CRM_ZH}\nE1,李娜,华南,一组,12x,100,0,0,0,0,1\nE2,王伟,华东,一组,1,0,0,0,0,0,1\nE3,张三,华东,一组,1,100,0,3,4,0,1\nE4,赵六,华东,一组,1,100,0,3,1,0,1\n"
    );
    let e = read(&plain_crm(), "crm.csv", text.as_bytes()).unwrap_err();
    assert_eq!(e.total(), 3);
    assert_eq!(
        e.to_string(),
        "crm.csv: line 2, column `sales_amount`: `12x` is not a decimal number (write digits with an optional `-` and `.`, e.g. 1234.5)\n\
         crm.csv: line 3, column `sales_target`: 0 is outside the allowed range (0, ∞)\n\
         crm.csv: line 4, column `deals_won`: 4 exceeds `leads` (3) in the same row"
    );
    // 60 bad rows: 50 listed, the rest counted.
    let mut text = format!("{CRM_ZH}\n");
    for i in 0..60 {
        text.push_str(&format!("E{i},x,x,x,bad,100,0,0,0,0,1\n"));
    }
    let e = read(&plain_crm(), "crm.csv", text.as_bytes()).unwrap_err();
    assert_eq!((e.problems.len(), e.n_more), (50, 10));
    assert!(e
        .to_string()
        .ends_with("crm.csv: and 10 more problems (the first 50 are listed)"));
}

#[test]
fn line_numbers_are_right_for_lf_crlf_cr_and_multiline_cells() {
    for eol in ["\n", "\r\n", "\r"] {
        let text = [
            CRM_ZH,
            "E1,\"李\n娜\",华南,一组,1,100,0,0,0,0,1",
            "E2,王伟,华东,一组,1,100,0,0,0,0,7",
        ]
        .join(eol)
            + eol;
        let text = text.replace("李\n娜", &format!("李{eol}娜"));
        let e = read(&plain_crm(), "crm.csv", text.as_bytes())
            .unwrap_err()
            .to_string();
        // The name's line break is refused on line 2, the range on line 4.
        assert_eq!(
            e,
            format!(
                "crm.csv: line 2, column `name`: `李{}娜` contains a line break; put the value on one line\n\
                 crm.csv: line 4, column `collection_rate`: 7 is outside the allowed range [0, 1]",
                eol.replace('\r', "\\u{000D}").replace('\n', "\\u{000A}")
            ),
            "{eol:?}"
        );
    }
}

#[test]
fn empty_and_total_rows_as_the_package_declares() {
    let text = format!("{CRM_ZH}\r\nE1,李娜,华南,一组,1,100,0,0,0,0,1\r\n,,,,,,,,,,\r\nE2,王伟,华东,一组,2,100,0,0,0,0,1\r\n合计,,,,3,200,0,0,0,0,\r\n");
    let e = read(&plain_crm(), "crm.csv", text.as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "crm.csv: line 3: the row has no values (only delimiters); delete it, or declare empty_rows = \"skip\" for source `crm`\n\
         crm.csv: line 5: `合计` looks like a total row; delete it, or declare total_row = \"skip\" for source `crm`"
    );
    let (d, report) = read(&crm(), "crm.csv", text.as_bytes()).unwrap();
    assert_eq!(d.n_rows(), 2);
    assert_eq!(report.skipped_empty_rows, [Loc::Line(3)]);
    assert_eq!(
        report.skipped_total_row,
        Some((Loc::Line(5), "合计".to_owned()))
    );
    // A total row that is not the last one is refused even when skipping.
    let text = format!("{CRM_ZH}\n总计：,,,,3,200,0,0,0,0,\nE1,李娜,华南,一组,1,100,0,0,0,0,1\n");
    let e = read(&crm(), "crm.csv", text.as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "crm.csv: line 2: a total row (`总计：`) may only be the last row; delete it"
    );
}

#[test]
fn invisible_and_control_characters_are_refused_with_their_cell() {
    let row = |id: &str, name: &str| format!("{CRM_ZH}\n{id},{name},华南,一组,1,100,0,0,0,0,1\n");
    let cases = [
        (row("E\u{200B}1", "李娜"), "column `staff_id`: `E\\u{200B}1` contains the invisible character U+200B at character 2; retype the ID"),
        (row("\u{FEFF}E1", "李娜"), "column `staff_id`: `\\u{FEFF}E1` contains the invisible character U+FEFF"),
        (row("E1", "李娜\u{1b}[31m"), "column `name`: `李娜\\u{001B}[31m` contains the escape character U+001B (a terminal escape sequence) at character 3; remove it"),
        (row("E1", "li\u{202E}na"), "column `name`: `li\\u{202E}na` contains the bidi control U+202E at character 3"),
        (row("E1", "li\u{0}na"), "column `name`: `li\\u{0000}na` contains the control character U+0000"),
    ];
    for (text, want) in cases {
        let e = read(&plain_crm(), "crm.csv", text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("crm.csv: line 2, "), "{e}");
        assert!(e.contains(want), "{e}\nwant: {want}");
    }
    // A zero-width joiner in a name is kept (it is part of some scripts and emoji).
    assert!(read(
        &plain_crm(),
        "crm.csv",
        row("E1", "👩\u{200D}💻").as_bytes()
    )
    .is_ok());
}

#[test]
fn json_with_duplicate_members_is_refused() {
    let pkg = package("marketing-v1");
    let survey = pkg.source("survey").unwrap();
    let body = "[{\"staff_id\":\"E1\",\"csat\":\"4\",\"nps\":1,\"complaints\":0,\n\"csat\":\"1\",\"complaints_resolved_72h\":0}]";
    let e = Dataset::parse(survey, "s.json", body.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("s.json: line 2: invalid JSON: duplicate member `csat`"),
        "{e}"
    );
    let d = Dataset::parse(
        survey,
        "s.csv",
        b"staff_id,csat,nps,complaints,complaints_resolved_72h\nE1,4,1,0,0\n",
    )
    .unwrap();
    let canon = String::from_utf8(d.canonical_bytes()).unwrap();
    let dup = canon.replace("\"csat\":\"4\"", "\"csat\":\"4\",\"csat\":\"4\"");
    assert!(Dataset::from_canonical(dup.as_bytes(), survey, "blob").is_err());
    assert!(Dataset::parse(survey, "blob", dup.as_bytes()).is_err());
}

#[test]
fn canonical_fast_path_round_trips_and_refuses_anything_else() {
    let pkg = package("marketing-v1");
    let c = rankproof_engine::synth::generate(300, 5, rankproof_engine::synth::CrmHeaders::Chinese);
    for (src, body) in [("crm", &c.crm), ("survey", &c.survey), ("oa", &c.oa)] {
        let schema = pkg.source(src).unwrap();
        let d = Dataset::parse(schema, "f", body.as_bytes()).unwrap();
        let bytes = d.canonical_bytes();
        let back = Dataset::from_canonical(&bytes, schema, "blob").unwrap();
        assert_eq!(back.staff_ids(), d.staff_ids());
        for i in 0..d.n_rows() {
            assert_eq!(back.loc(i), Some(Loc::Row(i + 1)));
            for ci in 0..schema.columns.len() {
                assert_eq!(back.value(i, ci), d.value(i, ci));
            }
        }
        assert_eq!(back.sha256(), d.sha256());
        let mut streamed = Vec::new();
        d.write_canonical(&mut streamed).unwrap();
        assert_eq!(streamed, bytes);
    }
    let survey = pkg.source("survey").unwrap();
    let canon = r#"{"format":"rankproof-dataset/1","rows":[{"complaints":2,"complaints_resolved_72h":1,"csat":"3","nps":-5,"staff_id":"E1"},{"complaints":0,"complaints_resolved_72h":0,"csat":"4.5","nps":10,"staff_id":"E2"}],"source":"survey"}"#;
    assert!(Dataset::from_canonical(canon.as_bytes(), survey, "blob").is_ok());
    for bad in [
        canon.replace(r#""csat":"4.5""#, r#""csat":"4.50""#),
        canon.replace(r#""nps":-5,"staff_id":"E1""#, r#""staff_id":"E1","nps":-5"#),
        canon.replace(r#""staff_id":"E2""#, r#""staff_id":"\u0045\u0032""#),
        canon.replace("E2", "E0"),
        canon.replace(r#""nps":10"#, r#""nps":"10""#),
        canon.replace("}]", "}] "),
        canon.replace("\"survey\"", "\"crm\""),
        canon.replace(r#""csat":"3""#, r#""csat":"9""#),
    ] {
        let e = Dataset::from_canonical(bad.as_bytes(), survey, "blob");
        assert!(e.is_err(), "{bad}");
    }
    let e = Dataset::from_canonical(
        canon
            .replace(r#""csat":"4.5""#, r#""csat":"4.50""#)
            .as_bytes(),
        survey,
        "blob",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not in canonical form"), "{e}");
}

#[test]
fn input_limits_are_clear_errors() {
    let text = crm_text();
    let lim = |f: fn(&mut InputLimits)| {
        let mut o = ReadOptions::default();
        f(&mut o.limits);
        Dataset::read(text.as_bytes(), "crm.csv", &o, &plain_crm())
            .unwrap_err()
            .to_string()
    };
    assert!(lim(|l| l.max_file_bytes = 10).contains("more than the limit of 10 bytes"));
    assert!(lim(|l| l.max_rows = 1).contains("line 3: more than 1 data rows"));
    assert!(lim(|l| l.max_cell_bytes = 4)
        .contains("line 2, column `name`: the cell has 6 bytes, more than the limit of 4"));
    assert!(
        lim(|l| l.max_columns = 3).contains("the header has 11 columns, more than the limit of 3")
    );
}

#[test]
fn lookalike_ids_within_a_file() {
    let text = format!("{CRM_ZH}\nE001,李娜,华南,一组,1,100,0,0,0,0,1\ne001,王伟,华东,一组,1,100,0,0,0,0,1\nＥ００２,张三,华东,一组,1,100,0,0,0,0,1\nE002,赵六,华东,一组,1,100,0,0,0,0,1\nＥ００３,孙七,华东,一组,1,100,0,0,0,0,1\nE003,周八,华东,一组,1,100,0,0,0,0,1\n");
    let e = read(&plain_crm(), "crm.csv", text.as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "crm.csv: line 3: staff_id `e001` differs from `E001` (line 2) only by letter case or full-/half-width characters; write one person's ID one way\n\
         crm.csv: line 5: staff_id `E002` differs from `Ｅ００２` (line 4) only by letter case or full-/half-width characters; write one person's ID one way\n\
         crm.csv: line 7: staff_id `E003` differs from `Ｅ００３` (line 6) only by letter case or full-/half-width characters; write one person's ID one way"
    );
}

fn ds(src: &str, body: &str) -> Dataset {
    let pkg = package("marketing-v1");
    Dataset::parse(
        pkg.source(src).unwrap(),
        &format!("{src}.csv"),
        body.as_bytes(),
    )
    .unwrap()
}

#[test]
fn cross_source_checks_at_record_time() {
    let crm = ds(
        "crm",
        &format!(
            "{CRM_ZH}\nE1,a,b,c,1,1,0,0,0,0,1\nE2,a,b,c,1,1,0,0,0,0,1\nE3,a,b,c,1,1,0,0,0,0,1\n"
        ),
    );
    let survey = ds("survey", "staff_id,csat,nps,complaints,complaints_resolved_72h\nE1,4,1,0,0\ne2,4,1,0,0\nE4,4,1,0,0\n");
    let oa_h =
        "staff_id,collaboration,knowledge_shares,mentoring,innovations_adopted,training_score";
    let oa = ds(
        "oa",
        &format!("{oa_h}\nE1,1,1,1,1,1\nE2,1,1,1,1,1\nE3,1,1,1,1,1\n"),
    );
    // The first source recorded has nothing to disagree with.
    assert!(cross_check(&crm, &[], MissingStaff::Refuse)
        .unwrap()
        .excluded
        .is_empty());
    assert!(cross_check(&oa, &[&crm], MissingStaff::Refuse).is_ok());
    let e = cross_check(&survey, &[&crm, &oa], MissingStaff::Refuse).unwrap_err();
    let lines: Vec<String> = e.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        lines,
        [
            "staff IDs `e2` (survey: survey.csv line 3) and `E2` (crm: crm.csv line 3) differ only by letter case or full-/half-width characters; write one person's ID the same way in every source",
            "staff `E3` (found in crm: crm.csv line 4) is missing from source `survey`; add them to that source's file, remove them from the other, or declare [join] missing_staff = \"exclude\" in the package",
            "staff `E4` (found in survey: survey.csv line 4) is missing from source `crm`; add them to that source's file, remove them from the other, or declare [join] missing_staff = \"exclude\" in the package",
            "staff `E4` (found in survey: survey.csv line 4) is missing from source `oa`; add them to that source's file, remove them from the other, or declare [join] missing_staff = \"exclude\" in the package",
        ]
    );
    assert!(matches!(e.problems[0], CrossProblem::Lookalike { .. }));
    // Under `exclude`, missing staff are listed; look-alikes are still refused.
    assert!(cross_check(&survey, &[&crm, &oa], MissingStaff::Exclude).is_err());
    let survey = ds("survey", "staff_id,csat,nps,complaints,complaints_resolved_72h\nE1,4,1,0,0\nE2,4,1,0,0\nE4,4,1,0,0\n");
    let r = cross_check(&survey, &[&crm, &oa], MissingStaff::Exclude).unwrap();
    let got: BTreeMap<String, Vec<String>> = r
        .excluded
        .iter()
        .map(|x| {
            (
                x.staff_id.to_string(),
                x.missing_from.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        BTreeMap::from([
            ("E3".into(), vec!["survey".into()]),
            ("E4".into(), vec!["crm".into(), "oa".into()])
        ])
    );
    assert_eq!(survey.without_staff(&r.excluded_ids()).n_rows(), 2);
    // A recorded dataset of the same source is the one being superseded.
    assert!(cross_check(
        &crm,
        &[&ds("crm", &format!("{CRM_ZH}\nE9,a,b,c,1,1,0,0,0,0,1\n"))],
        MissingStaff::Refuse
    )
    .is_ok());
}

#[test]
fn steward_declarations_in_the_manifest() {
    let pkg = steward_package();
    assert_eq!(pkg.missing_staff(), MissingStaff::Exclude);
    assert_eq!(
        package("marketing-v1").missing_staff(),
        MissingStaff::Refuse
    );
    let crm = pkg.source("crm").unwrap();
    assert_eq!(crm.rules.ignore_columns, ["备注", "序号*"]);
    let mut files = read_dir(&repo().join("rules/marketing-v1"));
    let m = String::from_utf8(files["package.toml"].clone()).unwrap();
    for (edit, want) in [
        (
            m.replacen(
                "[[sources.crm.columns]]",
                "[sources.crm]\ntotal_row = \"drop\"\n[[sources.crm.columns]]",
                1,
            ),
            "total_row = \"drop\" must be \"refuse\" or \"skip\"",
        ),
        (
            m.replacen(
                "[[sources.crm.columns]]",
                "[sources.crm]\nignore_columns = [\"销售*\"]\n[[sources.crm.columns]]",
                1,
            ),
            "ignore_columns: `销售*` matches `销售额`, a label of column `sales_amount`",
        ),
        (
            m.replace(
                "aliases = [\"线索数\"]",
                "aliases = [\"线索数\"]\nunits = [\"%\"]",
            ),
            "unit `%` needs a decimal column",
        ),
        (
            format!("{m}\n[join]\nmissing_staff = \"ignore\"\n"),
            "join.missing_staff: `ignore` must be \"refuse\" or \"exclude\"",
        ),
        (
            m.replace(
                "aliases = [\"销售额\"]",
                "aliases = [\"销售额\", \"线索数\"]",
            ),
            "header label `线索数` already names another column",
        ),
    ] {
        files.insert("package.toml".into(), edit.into_bytes());
        let e = RulePackage::from_files(files.clone())
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}\nwant: {want}");
    }
}

#[test]
fn dataset_error_from_problems_is_the_first() {
    let text =
        format!("{CRM_ZH}\nE1,李娜,华南,一组,12x,100,0,0,0,0,1\nE2,王伟,华东,一组,1,0,0,0,0,0,1\n");
    let e = Dataset::parse(&plain_crm(), "crm.csv", text.as_bytes()).unwrap_err();
    assert!(
        matches!(
            e,
            DatasetError::BadValue {
                at: Loc::Line(2),
                ..
            }
        ),
        "{e}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Any bytes, in any of the ways a file can be taken: no panic, and an
    /// accepted dataset reads back from its canonical form to the same bytes.
    #[test]
    fn any_bytes_read_without_panic(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        prefix in 0usize..4,
    ) {
        let pkg = steward_package();
        let mut bytes: Vec<u8> = match prefix {
            0 => Vec::new(),
            1 => b"\xFF\xFE".to_vec(),
            2 => b"PK\x03\x04".to_vec(),
            _ => format!("{CRM_ZH}\n").into_bytes(),
        };
        bytes.extend_from_slice(&body);
        for schema in pkg.sources().values() {
            for name in ["f.csv", "f.xlsx"] {
                if let Ok((d, _)) = Dataset::read(&bytes, name, &ReadOptions::default(), schema) {
                    let c = d.canonical_bytes();
                    let back = Dataset::from_canonical(&c, schema, "blob").unwrap();
                    proptest::prop_assert_eq!(back.canonical_bytes(), c);
                }
            }
        }
    }
}

#[test]
fn workbook_bombs_and_bad_delimiters_are_refused() {
    let mut opts = ReadOptions {
        sheet: Some("销售".into()),
        ..ReadOptions::default()
    };
    opts.limits.max_workbook_bytes = 2000;
    let e = Dataset::read(&crm_workbook(|_| {}), "crm.xlsx", &opts, &crm())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("crm.xlsx: the workbook expands to "), "{e}");
    assert!(e.contains("more than the limit of 2000 bytes"), "{e}");
    let text = crm_text();
    let opts = ReadOptions {
        delimiter: Some(b'"'),
        ..ReadOptions::default()
    };
    let e = Dataset::read(text.as_bytes(), "crm.csv", &opts, &plain_crm())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "crm.csv: line 1: `\"` cannot be a delimiter; use a comma, a tab, `;` or `|`"
    );
    let semi = text.replace(',', ";");
    let opts = ReadOptions {
        delimiter: Some(b';'),
        ..ReadOptions::default()
    };
    let (d, report) = Dataset::read(semi.as_bytes(), "crm.csv", &opts, &plain_crm()).unwrap();
    assert_eq!(d.canonical_bytes(), utf8_canonical());
    assert!(report.to_string().contains("separated by `;`"), "{report}");
}
