//! `rankproof key ...`: create and inspect signing keys, grant and revoke roles.

use std::fs;
use std::path::PathBuf;

use clap::Subcommand;
use rankproof_ledger::{KeyFile, Role, SecretKey};

use crate::fail::{bad, CmdResult};
use crate::keyfile::{check_permissions, parse_vkey_arg, read_secret_key, write_secret_key};
use crate::out::Out;
use crate::render::safe;
use crate::store::{open_for_append, LedgerArg};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair: write the secret key to FILE (mode 0600) and
    /// print the verifier key.
    New {
        /// The key name (e.g. `hr.example.com`); no spaces or `+`.
        #[arg(long)]
        name: String,
        /// Where to write the secret key (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a key file's name, key ID and verifier key (secret or public file).
    Show {
        /// The key file.
        file: PathBuf,
    },
    /// Grant a role to a key (signed by an admin).
    Grant {
        #[command(flatten)]
        ledger: LedgerArg,
        /// The admin's secret key file.
        #[arg(long)]
        signer: PathBuf,
        /// admin, hr, steward, operator or reviewer.
        #[arg(long)]
        role: String,
        /// The verifier key (`name+id+base64`) or a file holding it.
        #[arg(long)]
        vkey: String,
    },
    /// Revoke a key, all its roles, from the next entry on (signed by an admin).
    Revoke {
        #[command(flatten)]
        ledger: LedgerArg,
        /// The admin's secret key file.
        #[arg(long)]
        signer: PathBuf,
        /// The verifier key (`name+id+base64`) or a file holding it.
        #[arg(long)]
        vkey: String,
    },
}

pub fn run(c: KeyCommand, out: &mut Out) -> CmdResult {
    match c {
        KeyCommand::New { name, out: file } => {
            let key = SecretKey::generate(&name).map_err(|_| {
                bad(format!(
                    "key name {:?}: use a non-empty name with no spaces or '+'",
                    safe(&name)
                ))
            })?;
            write_secret_key(&file, &key)?;
            out.line(key.verifier().to_string())?;
            Ok(())
        }
        KeyCommand::Show { file } => {
            let text = fs::read_to_string(&file)
                .map_err(|e| bad(format!("reading {}: {e}", file.display())))?;
            let kf = KeyFile::parse(&text).map_err(|e| bad(format!("{}: {e}", file.display())))?;
            if let KeyFile::Secret(_) = kf {
                check_permissions(&file)?;
            }
            let v = kf.verifier();
            let kind = match kf {
                KeyFile::Secret(_) => "secret",
                KeyFile::Public(_) => "public",
            };
            out.line(format!("name:   {}", safe(v.name())))?;
            out.line(format!("key id: {}", v.id()))?;
            out.line(format!("file:   {kind} key"))?;
            out.line(format!("vkey:   {v}"))?;
            Ok(())
        }
        KeyCommand::Grant {
            ledger,
            signer,
            role,
            vkey,
        } => {
            let role: Role = role
                .parse()
                .map_err(|e| bad(format!("{e}; use admin, hr, steward, operator or reviewer")))?;
            let vkey = parse_vkey_arg(&vkey)?;
            let signer = read_secret_key(&signer)?;
            let mut l = open_for_append(&ledger.ledger)?;
            let added = l.grant(&vkey, role, &signer)?;
            out.line(format!(
                "entry {}: granted {role} to {} (effective from entry {})",
                added.entry.seq(),
                safe(&vkey.handle()),
                added.entry.seq() + 1
            ))?;
            Ok(())
        }
        KeyCommand::Revoke {
            ledger,
            signer,
            vkey,
        } => {
            let vkey = parse_vkey_arg(&vkey)?;
            let signer = read_secret_key(&signer)?;
            let mut l = open_for_append(&ledger.ledger)?;
            let added = l.revoke(&vkey, &signer)?;
            out.line(format!(
                "entry {}: revoked {} (effective from entry {})",
                added.entry.seq(),
                safe(&vkey.handle()),
                added.entry.seq() + 1
            ))?;
            Ok(())
        }
    }
}
