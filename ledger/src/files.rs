//! Reading files a user or an auditor names (bundle files, key files)
//! without following links, opening devices or FIFOs, or reading without
//! bound.

use std::fs;
use std::io::Read;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The path is a symbolic link, a directory, a FIFO, a socket or a device.
    #[error("{path} is {what}, not a regular file; refusing to read it")]
    NotRegular {
        /// The path.
        path: String,
        /// What it is, e.g. `a symbolic link`.
        what: &'static str,
    },
    /// The file is larger than the limit.
    #[error("{path} is larger than {max} bytes; refusing to read it")]
    TooLarge {
        /// The path.
        path: String,
        /// The limit.
        max: u64,
    },
    /// The file does not exist.
    #[error("{path} does not exist")]
    NotFound {
        /// The path.
        path: String,
    },
    /// Reading failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl FileError {
    /// Whether the file itself is wrong (not regular, too large, missing),
    /// as opposed to the environment failing to read it.
    pub fn is_finding(&self) -> bool {
        !matches!(self, FileError::Io { .. })
    }

    /// The reason without the path.
    pub fn reason(&self) -> String {
        match self {
            FileError::NotRegular { what, .. } => format!("is {what}, not a regular file"),
            FileError::TooLarge { max, .. } => format!("is larger than {max} bytes"),
            FileError::NotFound { .. } => "does not exist".into(),
            FileError::Io { source, .. } => source.to_string(),
        }
    }
}

/// What a file type is, for messages.
pub fn describe(t: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Read a regular file of at most `max_bytes` bytes.
///
/// The path itself must not be a symbolic link (checked with
/// `symlink_metadata` and, on Unix, `O_NOFOLLOW`); it is opened with
/// `O_NONBLOCK`, so a FIFO swapped in between cannot hang the open, and the
/// opened file's own metadata must say regular file; at most
/// `max_bytes + 1` bytes are read.
pub fn read_regular_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, FileError> {
    let shown = || path.display().to_string();
    let io = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            FileError::NotFound { path: shown() }
        } else {
            FileError::Io {
                path: shown(),
                source,
            }
        }
    };
    let meta = fs::symlink_metadata(path).map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular {
            path: shown(),
            what: describe(meta.file_type()),
        });
    }
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let file = opts.open(path).map_err(|e| {
        // O_NOFOLLOW on a link swapped in after the check.
        if e.raw_os_error() == Some(libc_eloop()) {
            FileError::NotRegular {
                path: shown(),
                what: "a symbolic link",
            }
        } else {
            io(e)
        }
    })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular {
            path: shown(),
            what: describe(meta.file_type()),
        });
    }
    if meta.len() > max_bytes {
        return Err(FileError::TooLarge {
            path: shown(),
            max: max_bytes,
        });
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > max_bytes {
        return Err(FileError::TooLarge {
            path: shown(),
            max: max_bytes,
        });
    }
    Ok(buf)
}

#[cfg(unix)]
fn libc_eloop() -> i32 {
    libc::ELOOP
}

#[cfg(not(unix))]
fn libc_eloop() -> i32 {
    -1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_within_the_bound() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, b"12345").unwrap();
        assert_eq!(read_regular_file(&p, 5).unwrap(), b"12345");
        assert!(matches!(
            read_regular_file(&p, 4),
            Err(FileError::TooLarge { max: 4, .. })
        ));
        assert!(matches!(
            read_regular_file(&d.path().join("none"), 4),
            Err(FileError::NotFound { .. })
        ));
        assert!(matches!(
            read_regular_file(d.path(), 4),
            Err(FileError::NotRegular {
                what: "a directory",
                ..
            })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn links_fifos_and_devices_are_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target");
        fs::write(&target, b"x").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            read_regular_file(&link, 10),
            Err(FileError::NotRegular {
                what: "a symbolic link",
                ..
            })
        ));
        let zero = d.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(read_regular_file(&zero, 10).is_err());
        assert!(matches!(
            read_regular_file(Path::new("/dev/zero"), 10),
            Err(FileError::NotRegular {
                what: "a device",
                ..
            })
        ));
        let fifo = d.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            // Would block for ever in a plain open(2) with no writer.
            assert!(matches!(
                read_regular_file(&fifo, 10),
                Err(FileError::NotRegular { what: "a FIFO", .. })
            ));
        }
    }
}
