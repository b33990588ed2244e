//! `rankproof rank`: a dry run from files (engine work), a dry recompute
//! from the ledger, or `--publish` (workflow work); and the hidden
//! `rankproof gen` that writes a synthetic cohort.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use rankproof_engine::{synth, Dataset, Period, RulePackage, SourceSchema};
use rankproof_workflow::{PublishOutcome, Supersede};

use crate::fail::{bad, env, refuse, CmdResult};
use crate::files::{read, read_package};
use crate::keyfile::read_secret_key;
use crate::out::Out;
use crate::render::{ranking as render, safe, Format};
use crate::store;

#[derive(Debug, Args)]
pub struct RankArgs {
    /// Rule package: a directory (dry run from files), or NAME@VERSION of a
    /// published package (from the ledger).
    #[arg(long)]
    pub rules: String,
    /// An input dataset for a source, as SOURCE=FILE (CSV or JSON); repeat for each source.
    #[arg(long = "input", value_name = "SOURCE=FILE")]
    pub inputs: Vec<String>,
    /// The period: 2025-03, 2025-Q1 or 2025 (default for a dry run: the package's effective_from).
    #[arg(long)]
    pub period: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The ledger directory (when ranking from the ledger).
    #[arg(long, env = "RANKPROOF_LEDGER", default_value = "ledger")]
    pub ledger: PathBuf,
    /// Append the ranking to the ledger (`ranking.publish`); needs --signer.
    #[arg(long, requires = "signer", conflicts_with = "inputs")]
    pub publish: bool,
    /// The operator's secret key file (with --publish).
    #[arg(long, requires = "publish")]
    pub signer: Option<PathBuf>,
    /// Replace the current ranking R of the period and package (a deliberate
    /// re-run, e.g. after a corrected dataset); needs --reason.
    #[arg(long, value_name = "R", requires_all = ["publish", "reason"])]
    pub supersedes: Option<u64>,
    /// Why the ranking is re-run (recorded with --supersedes).
    #[arg(long, value_name = "TEXT", requires = "supersedes")]
    pub reason: Option<String>,
}

pub fn run(a: RankArgs, out: &mut Out) -> CmdResult {
    if a.inputs.is_empty() {
        return from_ledger(a, out);
    }
    let files = read_package(Path::new(&a.rules))?.files;
    let pkg = RulePackage::from_files(files)
        .map_err(|e| bad(format!("rule package {}: {e}", a.rules)))?;
    let period: Period = match &a.period {
        Some(p) => crate::args::period(p)?,
        None => pkg.effective_from(),
    };
    // Check every --input first, then read and parse the files in
    // parallel (one thread each); the first failure in command-line order
    // is reported.
    let mut wanted: Vec<(&SourceSchema, &str)> = Vec::with_capacity(a.inputs.len());
    for spec in &a.inputs {
        let Some((source, file)) = spec.split_once('=') else {
            refuse!(
                "--input {}: write SOURCE=FILE, e.g. --input crm=crm.csv",
                safe(spec)
            );
        };
        let Some(schema) = pkg.source(source) else {
            refuse!(
                "--input {}: the package has no source `{}` (sources: {})",
                safe(spec),
                safe(source),
                pkg.sources()
                    .keys()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        if wanted.iter().any(|(s, _)| s.source == schema.source) {
            refuse!(
                "--input {}: source `{}` given twice",
                safe(spec),
                safe(source)
            );
        }
        wanted.push((schema, file));
    }
    let parsed: Vec<CmdResult<Dataset>> = std::thread::scope(|scope| {
        let handles: Vec<_> = wanted
            .iter()
            .map(|&(schema, file)| {
                scope.spawn(move || {
                    let bytes = read(Path::new(file))?;
                    Dataset::parse(schema, file, &bytes).map_err(bad)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(bad("reading an input file failed unexpectedly")))
            })
            .collect()
    });
    let mut inputs = BTreeMap::new();
    for d in parsed {
        let d = d?;
        inputs.insert(d.schema().source.clone(), d);
    }
    let ranking = rankproof_engine::rank(&pkg, &inputs, &period).map_err(bad)?;
    drop(inputs);
    render::print_fresh(&ranking, a.format, pkg.labels(), out)?;
    // The process ends next and returns all its memory at once; freeing
    // the ranking's columns one by one first would only add time.
    std::mem::forget(ranking);
    Ok(())
}

/// `rank --period P --rules NAME@VERSION [--publish --signer FILE
/// [--supersedes R --reason TEXT]]`: from ledger materials only.
fn from_ledger(a: RankArgs, out: &mut Out) -> CmdResult {
    let Some(period) = &a.period else {
        refuse!(
            "give --period P to rank from the ledger, or --input SOURCE=FILE ... for a dry run from files"
        );
    };
    let period = crate::args::period(period)?;
    let Some(signer) = a.signer.as_ref().filter(|_| a.publish) else {
        let v = store::view(&store::SourceArgs {
            ledger: a.ledger.clone(),
            bundle: None,
            log_vkey: None,
        })?;
        let dry = {
            let _p = crate::progress::Phase::start("scoring from the recorded datasets");
            v.dry_rank(&period, &a.rules)?
        };
        if let Some((cur, what)) = &dry.differs_from_current {
            eprintln!(
                "rankproof: warning: this recompute's inputs differ from the current published \
                 ranking {cur} ({}); `rankproof ranking show {cur}` prints the published one",
                safe(&what.join("; "))
            );
        }
        let labels = v.package(&a.rules)?.1.labels().clone();
        return render::print(&dry.doc, Some(&dry.ranking), a.format, None, &labels, out);
    };
    let key = read_secret_key(signer)?;
    let mut wf = store::workflow(&a.ledger)?;
    let labels = wf.package(&a.rules)?.1.labels().clone();
    let supersede = a.supersedes.map(|r| Supersede {
        ranking: r,
        reason: a.reason.clone().unwrap_or_default(),
    });
    let outcome = {
        let _p = crate::progress::Phase::start("scoring and publishing");
        wf.publish_ranking(&period, &a.rules, supersede, &key)?
    };
    match outcome {
        PublishOutcome::Published {
            seq,
            supersedes,
            dry,
        } => {
            render::print(
                &dry.doc,
                Some(&dry.ranking),
                a.format,
                Some(seq),
                &labels,
                out,
            )?;
            if a.format == Format::Table {
                out.line(format!("published as ranking {seq}"))?;
                if let Some(s) = supersedes {
                    out.line(format!(
                        "it supersedes ranking {s}, which stays in the ledger"
                    ))?;
                }
            }
            // As in the dry run: the process ends next (the ledger, which
            // is committed already, is still closed normally).
            std::mem::forget(dry);
        }
        PublishOutcome::Unchanged { seq } => {
            let r = wf.ranking(&seq.to_string())?;
            let published = wf.published_results(r)?;
            if a.format == Format::Table {
                out.line(format!(
                    "ranking {seq} is the current ranking of {period} under {} with identical \
                     materials; nothing written",
                    safe(&r.body.rules.name)
                ))?;
            } else {
                render::print(&published.doc, None, a.format, Some(seq), &labels, out)?;
                eprintln!(
                    "rankproof: ranking {seq} is the current ranking of {period} with identical \
                     materials; nothing written"
                );
            }
        }
    }
    Ok(())
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

pub fn gen(a: GenArgs, out: &mut Out) -> CmdResult {
    if a.n == 0 {
        return Err(bad("--n must be at least 1"));
    }
    let headers = if a.chinese_headers {
        synth::CrmHeaders::Chinese
    } else {
        synth::CrmHeaders::Canonical
    };
    let c = synth::generate(a.n, a.seed, headers);
    std::fs::create_dir_all(&a.out)
        .map_err(|e| env(format!("cannot create {}: {e}", a.out.display())))?;
    for (name, body) in [
        ("crm.csv", &c.crm),
        ("survey.csv", &c.survey),
        ("oa.csv", &c.oa),
    ] {
        let p = a.out.join(name);
        std::fs::write(&p, body).map_err(|e| env(format!("cannot write {}: {e}", p.display())))?;
    }
    out.line(format!(
        "wrote {} staff to {}/{{crm,survey,oa}}.csv",
        a.n,
        a.out.display()
    ))?;
    Ok(())
}
