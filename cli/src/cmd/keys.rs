//! `rankproof key ...`: create and inspect signing keys, grant and revoke roles.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use rankproof_ledger::{KeyFile, Role, SecretKey, VerifierKey};

use crate::exit::CmdResult;

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
        /// The admin's secret key file.
        #[arg(long)]
        signer: PathBuf,
        /// The verifier key (`name+id+base64`) or a file holding it.
        #[arg(long)]
        vkey: String,
    },
}

pub fn run(ledger: &Path, c: KeyCommand) -> CmdResult {
    match c {
        KeyCommand::New { name, out } => {
            let key = SecretKey::generate(&name).with_context(|| {
                format!("key name {name:?}: use a non-empty name with no spaces or '+'")
            })?;
            write_secret_key(&out, &key)?;
            println!("{}", key.verifier());
            Ok(())
        }
        KeyCommand::Show { file } => {
            let text =
                fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let kf = KeyFile::parse(&text).with_context(|| format!("{}", file.display()))?;
            if let KeyFile::Secret(_) = kf {
                check_permissions(&file)?;
            }
            let v = kf.verifier();
            let kind = match kf {
                KeyFile::Secret(_) => "secret",
                KeyFile::Public(_) => "public",
            };
            println!("name:   {}", v.name());
            println!("key id: {}", v.id());
            println!("file:   {kind} key");
            println!("vkey:   {v}");
            Ok(())
        }
        KeyCommand::Grant { signer, role, vkey } => {
            let role: Role = role
                .parse()
                .map_err(|e| anyhow!("{e}; use admin, hr, steward, operator or reviewer"))?;
            let vkey = parse_vkey_arg(&vkey)?;
            let signer = read_secret_key(&signer)?;
            let mut l = super::ledger::open_for_append(ledger)?;
            let added = l.grant(&vkey, role, &signer)?;
            println!(
                "entry {}: granted {role} to {} (effective from entry {})",
                added.entry.seq(),
                vkey.handle(),
                added.entry.seq() + 1
            );
            Ok(())
        }
        KeyCommand::Revoke { signer, vkey } => {
            let vkey = parse_vkey_arg(&vkey)?;
            let signer = read_secret_key(&signer)?;
            let mut l = super::ledger::open_for_append(ledger)?;
            let added = l.revoke(&vkey, &signer)?;
            println!(
                "entry {}: revoked {} (effective from entry {})",
                added.entry.seq(),
                vkey.handle(),
                added.entry.seq() + 1
            );
            Ok(())
        }
    }
}

/// Parse a `--vkey` argument: a verifier key, or a file holding a public or
/// secret key (only its public half is used).
pub fn parse_vkey_arg(arg: &str) -> anyhow::Result<VerifierKey> {
    Ok(VerifierKey::parse_arg(arg)?)
}

/// Write a secret key file with mode 0600, refusing to overwrite.
pub fn write_secret_key(path: &Path, key: &SecretKey) -> anyhow::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow!(
                "{} already exists; refusing to overwrite a key file, choose another --out",
                path.display()
            )
        } else {
            anyhow!("creating {}: {e}", path.display())
        }
    })?;
    f.write_all(format!("{}\n", key.to_secret_text()).as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Refuse secret key files that the group or others can read or write.
pub fn check_permissions(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "secret key file {} has permissions {mode:03o}; it must be readable only by \
                 its owner (run `chmod 600 {}`)",
                path.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Read a secret key file (permissions checked). The key never appears in
/// error messages.
pub fn read_secret_key(path: &Path) -> anyhow::Result<SecretKey> {
    let bytes =
        rankproof_ledger::read_regular_file(path, rankproof_ledger::keys::MAX_KEY_FILE_BYTES)
            .context("key file")?;
    let text =
        String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
    // A public key file may be readable by anyone: say what it is instead.
    // Anything else is checked like a secret key file before it is used.
    match KeyFile::parse(&text) {
        Ok(KeyFile::Public(_)) => bail!(
            "{} holds a public (verifier) key; a secret key file is needed to sign",
            path.display()
        ),
        Ok(KeyFile::Secret(k)) => {
            check_permissions(path)?;
            Ok(k)
        }
        Err(e) => {
            check_permissions(path)?;
            Err(anyhow!("{}: {e}", path.display()))
        }
    }
}
