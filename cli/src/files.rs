//! Files the command line reads and writes for the workflow: rule package
//! directories, input exports, receipt files.

use std::collections::BTreeMap;
use std::path::Path;

use crate::fail::{bad, env, CmdResult};

/// Read a file (a missing or unreadable file is bad input, named).
pub fn read(path: &Path) -> CmdResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))
}

/// Read a package folder and sort it into the package (the files its
/// manifest names) and the files it leaves out (RULES.md section 1). A
/// folder holding a secret key is refused.
pub fn read_package(dir: &Path) -> CmdResult<rankproof_engine::PackageContents> {
    let folder = read_package_dir(dir)?;
    rankproof_engine::package_contents(folder)
        .map_err(|e| bad(format!("rule package {}: {e}", dir.display())))
}

/// Read a package folder into a file map: every regular file below `dir`,
/// keyed by its `/`-separated relative path, hidden files included (the
/// engine leaves them out of the package and lists them). Hidden
/// directories (`.git`) are not read; symbolic links are refused.
pub fn read_package_dir(dir: &Path) -> CmdResult<BTreeMap<String, Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> CmdResult {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| bad(format!("cannot read directory {}: {e}", dir.display())))?;
        for entry in rd {
            let entry =
                entry.map_err(|e| env(format!("cannot read directory {}: {e}", dir.display())))?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(bad(format!("{}: file names must be UTF-8", path.display())));
            };
            let ft = entry
                .file_type()
                .map_err(|e| env(format!("{}: {e}", path.display())))?;
            if name.starts_with('.') && ft.is_dir() {
                continue;
            }
            if ft.is_symlink() {
                return Err(bad(format!(
                    "{}: symbolic links are not allowed in a rule package",
                    path.display()
                )));
            } else if ft.is_dir() {
                walk(root, &path, out)?;
            } else if ft.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel: Vec<&str> = rel
                    .components()
                    .map(|c| c.as_os_str().to_str().unwrap_or_default())
                    .collect();
                out.insert(rel.join("/"), read(&path)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

/// A receipt file name for a staff ID that never collides with another
/// ID's: ASCII letters, digits and `-` stay, every other byte is written as
/// `_XX` (hex), so `j.smith` → `j_2esmith`, `j_smith` → `j_5fsmith`.
pub fn receipt_file_name(staff_id: &str) -> String {
    let mut s = String::with_capacity(staff_id.len() + 16);
    for b in staff_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("_{b:02x}"));
        }
    }
    s.push_str(".receipt.json");
    s
}

/// Write a new file; never overwrite one.
pub fn write_new(path: &Path, bytes: &[u8]) -> CmdResult {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                bad(format!(
                    "{} already exists; refusing to overwrite it",
                    path.display()
                ))
            } else {
                env(format!("creating {}: {e}", path.display()))
            }
        })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| env(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_names_are_distinct_for_distinct_ids() {
        let ids = [
            "j.smith", "j_smith", "j-smith", "J.smith", "张三", "a/b", "..", "a_2eb",
        ];
        let names: std::collections::BTreeSet<String> =
            ids.iter().map(|i| receipt_file_name(i)).collect();
        assert_eq!(names.len(), ids.len(), "{names:?}");
        assert_eq!(receipt_file_name("j.smith"), "j_2esmith.receipt.json");
        assert!(names
            .iter()
            .all(|n| !n.contains('/') && !n.starts_with('.')));
    }
}
