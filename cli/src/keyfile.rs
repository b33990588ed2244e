//! Key files and key arguments: reading secret key files (permissions
//! checked, the key never in a message), writing them with mode 0600, and
//! parsing verifier-key arguments.

use std::fs;
use std::io::Write;
use std::path::Path;

use rankproof_ledger::{KeyFile, SecretKey, VerifierKey};

use crate::fail::{bad, env, CmdResult};

/// Parse a `--vkey` argument: a verifier key, or a file holding a public or
/// secret key (only its public half is used).
pub fn parse_vkey_arg(arg: &str) -> CmdResult<VerifierKey> {
    if looks_secret(arg) {
        return Err(bad(
            "a secret key was given where a verifier key is expected; pass the verifier key \
             (`rankproof key show FILE` prints it) and keep the secret key in its file",
        ));
    }
    match VerifierKey::parse(arg) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = Path::new(arg);
            if path.is_file() {
                let text = fs::read_to_string(path)
                    .map_err(|e| env(format!("reading {}: {e}", path.display())))?;
                let kf =
                    KeyFile::parse(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
                Ok(kf.verifier().clone())
            } else {
                Err(bad(format!(
                    "{:?} is not a verifier key ({e}) nor a key file; \
                     expected name+hexkeyid+base64 as printed by `rankproof key new`",
                    crate::render::safe(arg)
                )))
            }
        }
    }
}

/// Whether a command-line argument is secret key text (`PRIVATE+KEY+...`).
fn looks_secret(arg: &str) -> bool {
    arg.trim_start().starts_with("PRIVATE+KEY+")
}

/// An argument as it may be shown in a message: secret key text never is.
pub fn shown(arg: &str) -> &str {
    if looks_secret(arg) {
        "<secret key text>"
    } else {
        arg
    }
}

/// Write a secret key file with mode 0600, refusing to overwrite.
pub fn write_secret_key(path: &Path, key: &SecretKey) -> CmdResult {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            bad(format!(
                "{} already exists; refusing to overwrite a key file, choose another --out",
                path.display()
            ))
        } else {
            env(format!("creating {}: {e}", path.display()))
        }
    })?;
    f.write_all(format!("{}\n", key.to_secret_text()).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| env(format!("writing {}: {e}", path.display())))?;
    Ok(())
}

/// Refuse secret key files that the group or others can read or write.
pub fn check_permissions(path: &Path) -> CmdResult {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta =
            fs::metadata(path).map_err(|e| env(format!("reading {}: {e}", path.display())))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "secret key file {} has permissions {mode:03o}; it must be readable only by \
                 its owner (run `chmod 600 {}`)",
                path.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

/// Read a secret key file (permissions checked). The key never appears in
/// error messages.
pub fn read_secret_key(path: &Path) -> CmdResult<SecretKey> {
    let text = fs::read_to_string(path)
        .map_err(|e| bad(format!("reading key file {}: {e}", path.display())))?;
    // A public key file may be readable by anyone: say what it is instead.
    // Anything else is checked like a secret key file before it is used.
    match KeyFile::parse(&text) {
        Ok(KeyFile::Public(_)) => Err(bad(format!(
            "{} holds a public (verifier) key; a secret key file is needed to sign",
            path.display()
        ))),
        Ok(KeyFile::Secret(k)) => {
            check_permissions(path)?;
            Ok(k)
        }
        Err(e) => {
            check_permissions(path)?;
            Err(bad(format!("{}: {e}", path.display())))
        }
    }
}
