//! Dataset parsing: formats accepted, precise errors, canonical form.

use rankproof_engine::{Dataset, DatasetError, Loc};

use crate::common::package;

fn crm_header() -> &'static str {
    "staff_id,name,region,team,sales_amount,sales_target,prev_sales_amount,leads,deals_won,new_customers,collection_rate"
}

fn parse(src: &str, body: &str) -> Result<Dataset, DatasetError> {
    let pkg = package("marketing-v1");
    let schema = pkg.source(src).unwrap().clone();
    Dataset::parse(&schema, &format!("{src}.csv"), body.as_bytes())
}

fn err(src: &str, body: &str) -> String {
    parse(src, body).unwrap_err().to_string()
}

#[test]
fn bom_crlf_quotes_and_aliases_are_accepted() {
    let body = "\u{feff}员工编号,姓名,区域,团队,销售额,销售目标,上期销售额,线索数,成交数,新客户数,回款率\r\n\
                E2,\"王, 伟\",华东,华东一组,100.50,100,0,0,0,0,1.0000\r\n\
                E1,\"李\"\"娜\",华南,华南一组,  200 ,100,0,3,1,2,0.95\r\n";
    let d = parse("crm", body).unwrap();
    assert_eq!(d.n_rows(), 2);
    assert_eq!(d.staff_ids()[0].as_str(), "E1");
    let canon = String::from_utf8(d.canonical_bytes()).unwrap();
    assert_eq!(
        canon,
        r#"{"format":"rankproof-dataset/1","rows":[{"collection_rate":"0.95","deals_won":1,"leads":3,"name":"李\"娜","new_customers":2,"prev_sales_amount":"0","region":"华南","sales_amount":"200","sales_target":"100","staff_id":"E1","team":"华南一组"},{"collection_rate":"1","deals_won":0,"leads":0,"name":"王, 伟","new_customers":0,"prev_sales_amount":"0","region":"华东","sales_amount":"100.5","sales_target":"100","staff_id":"E2","team":"华东一组"}],"source":"crm"}"#
    );
    assert_eq!(d.sha256_hex().len(), 64);
}

#[test]
fn canonical_form_parses_back_to_identical_bytes() {
    let c = rankproof_engine::synth::generate(40, 3, rankproof_engine::synth::CrmHeaders::Chinese);
    let pkg = package("marketing-v1");
    for (src, body) in [("crm", &c.crm), ("survey", &c.survey), ("oa", &c.oa)] {
        let schema = pkg.source(src).unwrap();
        let d = Dataset::parse(schema, "f", body.as_bytes()).unwrap();
        let bytes = d.canonical_bytes();
        let again = Dataset::parse(schema, "canonical.json", &bytes).unwrap();
        assert_eq!(again.canonical_bytes(), bytes);
        assert_eq!(again.sha256_hex(), d.sha256_hex());
    }
}

#[test]
fn json_array_of_objects_with_aliases() {
    let body = r#"[{"员工编号":"E1","csat":"4.5","nps":10,"complaints":0,"complaints_resolved_72h":0},
                   {"staff_id":"E0","csat":3,"nps":-5,"complaints":2,"complaints_resolved_72h":null}]"#;
    let e = parse("survey", body).unwrap_err();
    assert!(
        e.to_string()
            .contains("row 2, column `complaints_resolved_72h`: empty, but the column is required"),
        "{e}"
    );
    let body = body.replace("null", "1");
    let d = parse("survey", &body).unwrap();
    assert_eq!(d.staff_ids()[0].as_str(), "E0");
    let e = parse(
        "survey",
        r#"[{"staff_id":"E1","csat":4.5,"nps":1,"complaints":0,"complaints_resolved_72h":0}]"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("write decimals as strings"), "{e}");
}

#[test]
fn canonical_dataset_of_another_source_is_refused() {
    let d = parse(
        "survey",
        "staff_id,csat,nps,complaints,complaints_resolved_72h\nE1,4,1,0,0\n",
    )
    .unwrap();
    let pkg = package("marketing-v1");
    let e = Dataset::parse(pkg.source("oa").unwrap(), "x.json", &d.canonical_bytes()).unwrap_err();
    assert!(e.to_string().contains("not `oa`"), "{e}");
}

#[test]
fn duplicate_ids_name_both_lines() {
    let e = parse("survey", "staff_id,csat,nps,complaints,complaints_resolved_72h\nE1,4,1,0,0\nE2,4,1,0,0\nE1,3,1,0,0\n").unwrap_err();
    assert_eq!(
        e,
        DatasetError::DuplicateId {
            file: "survey.csv".into(),
            at: Loc::Line(4),
            first: Loc::Line(2),
            staff_id: "E1".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "survey.csv: line 4: duplicate staff_id `E1` (first at line 2)"
    );
}

#[test]
fn non_numeric_values_name_line_and_column() {
    let body = format!("{}\nE1,张三,华东,一组,12x,100,0,0,0,0,1\n", crm_header());
    assert_eq!(
        err("crm", &body),
        "crm.csv: line 2, column `sales_amount`: `12x` is not a decimal number (write digits with an optional `-` and `.`, e.g. 1234.5)"
    );
    let body = format!("{}\nE1,张三,华东,一组,1,100,0,2.5,0,0,1\n", crm_header());
    assert!(err("crm", &body).contains("line 2, column `leads`: `2.5` is not an integer"));
}

#[test]
fn out_of_range_values_are_refused() {
    let body = format!("{}\nE1,张三,华东,一组,1,0,0,0,0,0,1\n", crm_header());
    assert_eq!(
        err("crm", &body),
        "crm.csv: line 2, column `sales_target`: 0 is outside the allowed range (0, ∞)"
    );
    let body = format!("{}\nE1,张三,华东,一组,1,1,0,0,0,0,1.01\n", crm_header());
    assert!(err("crm", &body)
        .contains("column `collection_rate`: 1.01 is outside the allowed range [0, 1]"));
    let body = format!("{}\nE1,张三,华东,一组,1,1,0,3,4,0,1\n", crm_header());
    assert!(err("crm", &body)
        .contains("line 2, column `deals_won`: 4 exceeds `leads` (3) in the same row"));
    assert!(err(
        "survey",
        "staff_id,csat,nps,complaints,complaints_resolved_72h\nE1,4,101,0,0\n"
    )
    .contains("[-100, 100]"));
}

#[test]
fn missing_and_unknown_columns() {
    let e = err("survey", "staff_id,csat,nps,complaints\nE1,4,1,0\n");
    assert_eq!(e, "survey.csv: missing required column `complaints_resolved_72h` (accepted headers: complaints_resolved_72h, 72小时内解决投诉数)");
    let e = err(
        "survey",
        "staff_id,csat,nps,complaints,complaints_resolved_72h,bogus\nE1,4,1,0,0,1\n",
    );
    assert!(e.contains("unknown column `bogus`"), "{e}");
    let e = err(
        "survey",
        "staff_id,csat,员工编号,nps,complaints,complaints_resolved_72h\nE1,4,E1,1,0,0\n",
    );
    assert!(e.contains("both map to `staff_id`"), "{e}");
}

#[test]
fn empty_files_and_ragged_rows() {
    assert_eq!(err("oa", ""), "oa.csv: the file has no data rows");
    assert_eq!(err("oa", "\u{feff}"), "oa.csv: the file has no data rows");
    assert_eq!(err("oa", "staff_id,collaboration,knowledge_shares,mentoring,innovations_adopted,training_score\n"), "oa.csv: the file has no data rows");
    let e = err("oa", "staff_id,collaboration,knowledge_shares,mentoring,innovations_adopted,training_score\nE1,1,1,1,1,1\nE2,1,1,1,1\n");
    assert!(
        e.starts_with("oa.csv: line 3: 5 fields where the header has 6"),
        "{e}"
    );
}

#[test]
fn empty_required_cells_and_bad_ids() {
    let e = err("oa", "staff_id,collaboration,knowledge_shares,mentoring,innovations_adopted,training_score\nE1,,1,1,1,1\n");
    assert_eq!(
        e,
        "oa.csv: line 2, column `collaboration`: empty, but the column is required"
    );
    let e = err("oa", "staff_id,collaboration,knowledge_shares,mentoring,innovations_adopted,training_score\n\"E 1\",1,1,1,1,1\n");
    assert!(
        e.contains("column `staff_id`: `E 1` is not a staff ID"),
        "{e}"
    );
}

#[test]
fn invalid_utf8_is_refused_with_its_line() {
    let mut body = b"staff_id,collaboration,knowledge_shares,mentoring,innovations_adopted,training_score\nE1,1,1,1,1,1\n".to_vec();
    body.extend_from_slice(b"E\xff2,1,1,1,1,1\n");
    let pkg = package("marketing-v1");
    let e = Dataset::parse(pkg.source("oa").unwrap(), "oa.csv", &body)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("oa.csv: line 3: not valid UTF-8"), "{e}");
}

#[test]
fn malformed_json_names_the_line() {
    let e = err("oa", "[\n{\"staff_id\": \"E1\",\n}]");
    assert!(e.starts_with("oa.csv: line 3: invalid JSON"), "{e}");
}

#[test]
fn rules_md_canonical_dataset_example() {
    // RULES.md section 6 pins these bytes and this hash.
    let d = parse(
        "survey",
        "staff_id,csat,nps,complaints,complaints_resolved_72h\nE2,4.50,10,0,0\nE1,3,-5,2,1\n",
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(d.canonical_bytes()).unwrap(),
        r#"{"format":"rankproof-dataset/1","rows":[{"complaints":2,"complaints_resolved_72h":1,"csat":"3","nps":-5,"staff_id":"E1"},{"complaints":0,"complaints_resolved_72h":0,"csat":"4.5","nps":10,"staff_id":"E2"}],"source":"survey"}"#
    );
    assert_eq!(
        d.sha256_hex(),
        "85a0c2666c8c316079023483471c5f2d338c710f0026b42818882b91f910784a"
    );
}
