//! Bundle the example data and rule packages into the binary, so that
//! `rankproof demo` works from any directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((rel.join("/"), path.clone()));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("..");
    let mut files = Vec::new();
    for d in ["rules/marketing-v1", "rules/marketing-v2", "examples"] {
        let dir = root.join(d);
        println!("cargo:rerun-if-changed={}", dir.display());
        walk(&root, &dir, &mut files);
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("bundled.rs");
    let mut f = fs::File::create(&out).expect("OUT_DIR is writable");
    writeln!(
        f,
        "/// Bundled files: (path relative to the repository, bytes)."
    )
    .ok();
    writeln!(f, "pub static BUNDLED: &[(&str, &[u8])] = &[").ok();
    for (rel, path) in files {
        let abs = fs::canonicalize(&path).unwrap_or(path);
        writeln!(
            f,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .ok();
    }
    writeln!(f, "];").ok();
}
