//! Key files and key arguments: reading secret key files (permissions
//! checked, the key never in a message), writing them with mode 0600, and
//! parsing verifier-key arguments.

use std::fs;
use std::io::Write;
use std::path::Path;

use rankproof_ledger::{KeyFile, SecretKey, VerifierKey};

use crate::fail::{bad, env, CmdResult};

/// Parse a `--vkey` argument: a verifier key, or a file holding a public or
/// secret key (only its public half is used). Secret key text in any form is
/// refused, and no message repeats the argument or a file's contents
/// (`VerifierKey::parse_arg`).
pub fn parse_vkey_arg(arg: &str) -> CmdResult<VerifierKey> {
    VerifierKey::parse_arg(arg).map_err(bad)
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
    let bytes =
        rankproof_ledger::read_regular_file(path, rankproof_ledger::keys::MAX_KEY_FILE_BYTES)
            .map_err(|e| bad(format!("key file: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| bad(format!("{} is not UTF-8 text", path.display())))?;
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
