//! `rankproof rank` (dry run: engine work; from the ledger: workflow work),
//! and the hidden `rankproof gen` that writes a synthetic cohort.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use rankproof_engine::{decimal::canonical, synth, Dataset, Period, Ranking};

use crate::cmd::rules::load_package;
use crate::exit::CmdResult;
use crate::table::Table;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct RankArgs {
    /// Rule package: a directory (dry run).
    #[arg(long)]
    pub rules: String,
    /// An input dataset for a source, as SOURCE=FILE (CSV or JSON); repeat for each source.
    #[arg(long = "input", value_name = "SOURCE=FILE")]
    pub inputs: Vec<String>,
    /// The period: 2025-03, 2025-Q1 or 2025 (default: the package's effective_from).
    #[arg(long)]
    pub period: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Append the ranking to the ledger (`ranking.publish`); needs --signer.
    #[arg(long, requires = "signer", conflicts_with = "inputs")]
    pub publish: bool,
    /// The operator's secret key file (with --publish).
    #[arg(long)]
    pub signer: Option<PathBuf>,
}

pub fn run(ledger: &Path, a: RankArgs) -> CmdResult {
    if a.inputs.is_empty() {
        return from_ledger(ledger, &a);
    }
    let pkg = load_package(Path::new(&a.rules))?;
    let period: Period = match &a.period {
        Some(p) => p.parse()?,
        None => pkg.effective_from(),
    };
    let mut inputs = BTreeMap::new();
    for spec in &a.inputs {
        let (source, file) = spec.split_once('=').with_context(|| {
            format!("--input {spec}: write SOURCE=FILE, e.g. --input crm=crm.csv")
        })?;
        let schema = pkg.source(source).with_context(|| {
            format!(
                "--input {spec}: the package has no source `{source}` (sources: {})",
                pkg.sources()
                    .keys()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let bytes = std::fs::read(file).with_context(|| format!("cannot read {file}"))?;
        let d = Dataset::parse(schema, file, &bytes)?;
        if inputs.insert(schema.source.clone(), d).is_some() {
            return Err(anyhow::anyhow!("--input {spec}: source `{source}` given twice").into());
        }
    }
    let ranking = rankproof_engine::rank(&pkg, &inputs, &period)?;
    drop(inputs);
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match a.format {
        // The canonical document, streamed record by record, plus a newline.
        Format::Json => ranking
            .write_canonical(&mut stdout)
            .and_then(|()| stdout.write_all(b"\n")),
        Format::Csv => stdout.write_all(csv(&ranking).as_bytes()),
        Format::Table => stdout.write_all(table(&ranking).as_bytes()),
    }
    .and_then(|()| stdout.flush())
    .context("cannot write to stdout")?;
    Ok(())
}

/// `rank --period P --rules NAME@VERSION [--publish --signer FILE]`: from
/// ledger materials only.
fn from_ledger(ledger: &Path, a: &RankArgs) -> CmdResult {
    let Some(period) = &a.period else {
        return Err(anyhow::anyhow!(
            "give --period P to rank from the ledger, or --input SOURCE=FILE ... for a dry run from files"
        )
        .into());
    };
    let publish = if a.publish { a.signer.as_deref() } else { None };
    let (ranking, id) = crate::cmd::flow::rank_from_ledger(ledger, period, &a.rules, publish)?;
    let out = match a.format {
        Format::Json => {
            // The canonical document, with the ranking's ID as a first member
            // when it was published.
            let doc = ranking.canonical_bytes();
            let mut b = Vec::with_capacity(doc.len() + 32);
            match id {
                Some(id) => {
                    b.extend_from_slice(format!("{{\"ranking\":{id},").as_bytes());
                    b.extend_from_slice(doc.get(1..).unwrap_or_default());
                }
                None => b.extend_from_slice(&doc),
            }
            b.push(b'\n');
            b
        }
        Format::Csv => csv(&ranking).into_bytes(),
        Format::Table => {
            let mut t = table(&ranking);
            if let Some(id) = id {
                t.push_str(&format!("published as ranking {id}\n"));
            }
            t.into_bytes()
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out).context("cannot write to stdout")?;
    Ok(())
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv(r: &Ranking) -> String {
    let (attrs, scores) = columns(r);
    let mut header = vec!["staff_id".to_owned()];
    header.extend(attrs.iter().cloned());
    header.extend(scores.iter().cloned());
    header.extend(["position", "rank", "grade", "bonus_multiplier", "flags"].map(String::from));
    let mut out = header.join(",");
    out.push('\n');
    for s in &r.results {
        let mut cells = vec![s.staff_id.to_string()];
        cells.extend(
            attrs
                .iter()
                .map(|a| s.attributes.get(a).cloned().unwrap_or_default()),
        );
        cells.extend(
            scores
                .iter()
                .map(|k| s.scores.get(k).map(canonical).unwrap_or_default()),
        );
        cells.push(s.position.to_string());
        cells.push(s.rank.to_string());
        cells.push(s.grade.clone());
        cells.push(canonical(&s.bonus_multiplier));
        cells.push(s.flags.join(";"));
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// Attribute and score names in report order.
fn columns(r: &Ranking) -> (Vec<String>, Vec<String>) {
    (r.attribute_names.clone(), r.score_names.clone())
}

/// The ranking as an aligned terminal table with the grade distribution.
pub fn table(r: &Ranking) -> String {
    let (attrs, scores) = columns(r);
    let mut headers = vec![
        "position".to_owned(),
        "rank".to_owned(),
        "staff_id".to_owned(),
    ];
    headers.extend(attrs.iter().cloned());
    headers.extend(scores.iter().cloned());
    headers.extend(["grade".to_owned(), "bonus".to_owned(), "flags".to_owned()]);
    let first_score = 3 + attrs.len();
    let mut right = vec![0, 1];
    right.extend(first_score..first_score + scores.len());
    right.push(first_score + scores.len() + 1);
    let mut t = Table::new(headers).right(&right);
    for s in &r.results {
        let mut cells = vec![
            s.position.to_string(),
            s.rank.to_string(),
            s.staff_id.to_string(),
        ];
        cells.extend(
            attrs
                .iter()
                .map(|a| s.attributes.get(a).cloned().unwrap_or_default()),
        );
        // Reported scores padded to the report decimals so points align.
        cells.extend(scores.iter().map(|k| {
            s.scores
                .get(k)
                .map(|v| {
                    let mut v = *v;
                    v.rescale(r.report_decimals);
                    v.to_string()
                })
                .unwrap_or_default()
        }));
        cells.push(s.grade.clone());
        cells.push(canonical(&s.bonus_multiplier));
        cells.push(s.flags.join(" "));
        t.row(cells);
    }
    let mut out = format!(
        "{}@{}  period {}  N = {}\npackage {}\nresult  {}\n\n",
        r.package_name,
        r.package_version,
        r.period,
        r.n(),
        r.package_hash,
        r.sha256_hex()
    );
    out.push_str(&t.render());
    out.push_str("\ngrade distribution\n");
    let mut g = Table::new(["grade", "count", "quota", "status"]).right(&[1, 2]);
    for d in &r.grade_distribution {
        let status = match d.quota {
            None => "no quota".to_owned(),
            Some(q) if d.count > q => format!("over quota by {} (tie on a boundary)", d.count - q),
            Some(q) if d.count < q => format!("{} under quota", q - d.count),
            Some(_) => "at quota".to_owned(),
        };
        g.row([
            d.grade.clone(),
            d.count.to_string(),
            d.quota.map(|q| q.to_string()).unwrap_or_else(|| "-".into()),
            status,
        ]);
    }
    out.push_str(&g.render());
    out
}

/// `rankproof gen`: write a deterministic synthetic cohort (crm.csv,
/// survey.csv, oa.csv) for the marketing packages.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Number of staff.
    #[arg(long)]
    pub n: usize,
    /// Seed of the generator (same n and seed, same bytes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Use the CRM export's Chinese header labels in crm.csv.
    #[arg(long)]
    pub chinese_headers: bool,
}

pub fn gen(a: GenArgs) -> CmdResult {
    if a.n == 0 {
        return Err(anyhow::anyhow!("--n must be at least 1").into());
    }
    let headers = if a.chinese_headers {
        synth::CrmHeaders::Chinese
    } else {
        synth::CrmHeaders::Canonical
    };
    let c = synth::generate(a.n, a.seed, headers);
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    for (name, body) in [
        ("crm.csv", &c.crm),
        ("survey.csv", &c.survey),
        ("oa.csv", &c.oa),
    ] {
        let p = a.out.join(name);
        std::fs::write(&p, body).with_context(|| format!("cannot write {}", p.display()))?;
    }
    println!(
        "wrote {} staff to {}/{{crm,survey,oa}}.csv",
        a.n,
        a.out.display()
    );
    Ok(())
}
