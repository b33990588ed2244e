//! A ranking (a stored or freshly computed result document) as a table or
//! CSV. Columns come from the document: its attributes and score names.

use rankproof_engine::Ranking;
use rankproof_ledger::Hash;
use rankproof_workflow::{ResultDoc, StaffRecord};

use super::table::Table;
use super::{csv_out, label, safe, Format, Labels};
use crate::fail::CmdResult;
use crate::out::Out;

/// The records to show, in position order: for a ranking just computed
/// (`fresh`) from the engine's columns, else read from the document.
fn records(doc: &ResultDoc, fresh: Option<&Ranking>) -> Vec<StaffRecord> {
    match fresh {
        Some(r) => StaffRecord::all_from(r, &doc.header().score_names),
        None => doc.records_brief(),
    }
}

/// The ranking as CSV: staff_id, attributes, scores, position, rank,
/// grade, bonus_multiplier, flags.
pub fn csv(doc: &ResultDoc, fresh: Option<&Ranking>) -> Vec<u8> {
    csv_bytes(doc, fresh, false)
}

/// The ranking as CSV for Excel (byte-order mark, CRLF).
pub fn csv_excel(doc: &ResultDoc, fresh: Option<&Ranking>) -> Vec<u8> {
    csv_bytes(doc, fresh, true)
}

fn csv_bytes(doc: &ResultDoc, fresh: Option<&Ranking>, excel: bool) -> Vec<u8> {
    let attrs = doc.attribute_names();
    let scores = &doc.header().score_names;
    let mut header = vec!["staff_id".to_owned()];
    header.extend(attrs.iter().cloned());
    header.extend(scores.iter().cloned());
    header.extend(["position", "rank", "grade", "bonus_multiplier", "flags"].map(String::from));
    match fresh {
        Some(r) => csv_out::write_rows(header, r.n(), fresh_row(r, &attrs, scores), excel),
        None => {
            let records = doc.records_brief();
            let row = |i: usize, out: &mut csv_out::Row<'_>| {
                if let Some(r) = records.get(i) {
                    out.cell(&r.staff_id);
                    for a in &attrs {
                        out.cell(r.attribute(a).unwrap_or_default());
                    }
                    for k in scores {
                        out.cell(r.score(k).unwrap_or_default());
                    }
                    out.cell(&r.position.to_string());
                    out.cell(&r.rank.to_string());
                    out.cell(&r.grade);
                    out.cell(&r.bonus_multiplier);
                    out.cell(&r.flags.join(";"));
                }
            };
            csv_out::write_rows(header, records.len(), row, excel)
        }
    }
}

/// The CSV row of position `i` of a ranking just computed, read in place
/// from the engine's columns: the same cells as the row read from its
/// document (`attrs` and `scores` are the document's columns).
fn fresh_row<'r>(
    r: &'r Ranking,
    attrs: &[String],
    scores: &[String],
) -> impl Fn(usize, &mut csv_out::Row<'_>) + Sync + 'r {
    let index = |names: Vec<&str>, want: &[String]| -> Vec<Option<usize>> {
        want.iter()
            .map(|w| names.iter().position(|n| n == w))
            .collect()
    };
    let attrs = index(r.row_attributes().collect(), attrs);
    let scores = index(r.row_scores().collect(), scores);
    move |i, out| {
        let Some(row) = r.summary_row(i) else {
            return;
        };
        let mut text = Vec::with_capacity(32);
        let mut decimal = |d: rust_decimal::Decimal, out: &mut csv_out::Row<'_>| {
            text.clear();
            rankproof_engine::decimal::write_canonical(&d, &mut text);
            // INVARIANT: a canonical decimal is ASCII.
            out.cell(std::str::from_utf8(&text).unwrap_or_default());
        };
        out.cell(row.staff_id());
        for a in &attrs {
            out.cell(a.map_or("", |a| row.attribute(a)));
        }
        for k in &scores {
            match k {
                Some(k) => decimal(row.score(*k), out),
                None => out.cell(""),
            }
        }
        out.cell(&row.position().to_string());
        out.cell(&row.rank().to_string());
        out.cell(row.grade());
        decimal(row.bonus_multiplier(), out);
        let mut flags = String::new();
        for (n, f) in row.flags().enumerate() {
            if n > 0 {
                flags.push(';');
            }
            flags.push_str(f);
        }
        out.cell(&flags);
    }
}

/// A reported score padded to the report decimals so points align.
fn padded(v: &str, decimals: u32) -> String {
    match v.parse::<rust_decimal::Decimal>() {
        Ok(mut d) => {
            d.rescale(decimals);
            d.to_string()
        }
        Err(_) => v.to_owned(),
    }
}

/// The ranking as an aligned terminal table with the grade distribution.
/// Column headers show the package's display labels where it declares them.
/// `fresh`: the ranking `doc` was just written from, if there is one.
pub fn table(doc: &ResultDoc, fresh: Option<&Ranking>, labels: &Labels) -> String {
    table_with_hash(doc, &Hash::of(doc.bytes()).to_hex(), fresh, labels)
}

/// [`table`], given the document's hash (`doc` may be a skeleton).
fn table_with_hash(
    doc: &ResultDoc,
    hash_hex: &str,
    fresh: Option<&Ranking>,
    labels: &Labels,
) -> String {
    let h = doc.header();
    let attrs = doc.attribute_names();
    let scores = &h.score_names;
    let l = |n: &str| label(labels, n);
    let mut headers = vec![l("position"), l("rank"), l("staff_id")];
    headers.extend(attrs.iter().map(|a| l(a)));
    headers.extend(scores.iter().map(|a| l(a)));
    headers.extend([
        l("grade"),
        labels
            .get("bonus_multiplier")
            .map_or_else(|| "bonus".to_owned(), |b| safe(b).into_owned()),
        l("flags"),
    ]);
    let first_score = 3 + attrs.len();
    let mut right = vec![0, 1];
    right.extend(first_score..first_score + scores.len());
    right.push(first_score + scores.len() + 1);
    let mut t = Table::new(headers).right(&right);
    for r in records(doc, fresh) {
        let mut cells = vec![
            r.position.to_string(),
            r.rank.to_string(),
            safe(&r.staff_id).into_owned(),
        ];
        cells.extend(
            attrs
                .iter()
                .map(|a| safe(r.attribute(a).unwrap_or_default()).into_owned()),
        );
        cells.extend(
            scores
                .iter()
                .map(|k| padded(r.score(k).unwrap_or_default(), h.report_decimals)),
        );
        cells.push(safe(&r.grade).into_owned());
        cells.push(r.bonus_multiplier.clone());
        cells.push(safe(&r.flags.join(" ")).into_owned());
        t.row(cells);
    }
    let mut out = format!(
        "{}  period {}  N = {}\npackage {}\nresult  {}\n\n",
        safe(&h.package_id()),
        h.period,
        h.n,
        h.package_hash,
        hash_hex
    );
    out.push_str(&t.render());
    out.push_str("\ngrade distribution\n");
    let mut g =
        Table::new([l("grade"), "count".into(), "quota".into(), "status".into()]).right(&[1, 2]);
    for d in &h.grades {
        let status = match d.quota {
            None => "no quota".to_owned(),
            Some(q) if d.count > q => format!("over quota by {} (tie on a boundary)", d.count - q),
            Some(q) if d.count < q => format!("{} under quota", q - d.count),
            Some(_) => "at quota".to_owned(),
        };
        g.row([
            safe(&d.grade).into_owned(),
            d.count.to_string(),
            d.quota.map(|q| q.to_string()).unwrap_or_else(|| "-".into()),
            status,
        ]);
    }
    out.push_str(&g.render());
    if let Some(ex) = &h.excluded {
        out.push_str(&format!(
            "\nexcluded as not eligible ([join] missing_staff = \"exclude\"):{}\n",
            if ex.is_empty() { " nobody" } else { "" }
        ));
        if !ex.is_empty() {
            let mut e = Table::new(["staff_id", "missing from"]);
            for (id, from) in ex {
                e.row([safe(id).into_owned(), safe(&from.join(", ")).into_owned()]);
            }
            out.push_str(&e.render());
        }
    }
    out
}

/// Print a result document; JSON is its canonical bytes, with the
/// ranking's entry number as a first member when it is published.
/// `fresh`: the ranking `doc` was just written from, if there is one
/// (tables and CSV are then read from its columns).
pub fn print(
    doc: &ResultDoc,
    fresh: Option<&Ranking>,
    format: Format,
    id: Option<u64>,
    labels: &Labels,
    out: &mut Out,
) -> CmdResult {
    match format {
        Format::Json => {
            let bytes = doc.bytes();
            match id {
                Some(id) => {
                    out.text(&format!("{{\"ranking\":{id},"))?;
                    out.bytes(bytes.get(1..).unwrap_or_default())?;
                }
                None => out.bytes(bytes)?,
            }
            out.bytes(b"\n")?;
        }
        Format::Csv => out.bytes(&csv(doc, fresh))?,
        Format::CsvExcel => out.bytes(&csv_excel(doc, fresh))?,
        Format::Table => out.text(&table(doc, fresh, labels))?,
    }
    Ok(())
}

/// Print a ranking just computed and not published (a dry run), every
/// record read from its columns and the header from the document's
/// skeleton ([`Ranking::skeleton`]), so tables and CSV never hold the
/// whole document (at 100,000 staff, 156 MB): CSV never writes it, the
/// table streams it through SHA-256 for the result hash it shows
/// ([`Ranking::sha256`]). JSON is streamed from the ranking.
pub fn print_fresh(ranking: &Ranking, format: Format, labels: &Labels, out: &mut Out) -> CmdResult {
    let skeleton = || ResultDoc::parse(ranking.skeleton()).map_err(crate::fail::bad);
    match format {
        Format::Json => {
            ranking.write_canonical(out.writer())?;
            out.bytes(b"\n")?;
        }
        Format::Table => {
            let hash = hex::encode(ranking.sha256());
            out.text(&table_with_hash(&skeleton()?, &hash, Some(ranking), labels))?;
        }
        Format::Csv => out.bytes(&csv(&skeleton()?, Some(ranking)))?,
        Format::CsvExcel => out.bytes(&csv_excel(&skeleton()?, Some(ranking)))?,
    }
    Ok(())
}
