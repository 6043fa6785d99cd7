//! Paths the user names. An output path is checked before a run starts — its directory
//! exists (or is created) and can be written — so a long run never ends with its figures
//! unwritable; an input is read only when it is a regular file (a FIFO would block the read
//! forever, a device like `/dev/zero` never ends). Every error names the path.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

/// The directory a file path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Creates `dir` and its parents when missing; the error names the directory.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        let why = if dir.exists() && !dir.is_dir() {
            "it exists and is not a directory".to_string()
        } else {
            e.to_string()
        };
        io::Error::new(
            e.kind(),
            format!("cannot create directory {}: {why}", dir.display()),
        )
    })
}

/// Checks that a results file can be written at `path` later: it is not a directory, its
/// directory exists (created when missing) and a file can be created in it.
pub fn check_output_file(path: &Path) -> io::Result<()> {
    if path.file_name().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        ));
    }
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a directory, not a file", path.display()),
        ));
    }
    let dir = parent_dir(path);
    create_dir(&dir)?;
    probe_writable(&dir)
}

/// Checks that files can be written into the directory `dir`: created when missing, then a
/// file is created in it and removed.
pub fn check_output_dir(dir: &Path) -> io::Result<()> {
    create_dir(dir)?;
    probe_writable(dir)
}

/// Creates and removes a file in `dir`.
fn probe_writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".loopbench-probe-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot write in directory {}: {e}", dir.display()),
            )
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Reads a regular file as text; anything else (a FIFO, a device, a directory) is an
/// `InvalidInput` error saying what it is, without opening it.
pub fn read_regular_file(path: &Path) -> io::Result<String> {
    String::from_utf8(read_regular(path)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "it is not UTF-8 text".to_string(),
        )
    })
}

/// Reads a regular file's bytes; anything else is refused as in [`read_regular_file`].
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let ft = meta.file_type();
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {what}, not a regular file"),
        ));
    }
    std::fs::read(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_checks_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        // A path whose parent is a regular file: not creatable, even for root.
        let err = check_output_file(&file.join("r.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(err.contains("not a directory"), "{err}");
        let err = check_output_dir(&file).unwrap_err().to_string();
        assert!(err.contains("exists and is not a directory"), "{err}");
        let err = check_output_file(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        // Missing directories are created, and nothing is left behind.
        let deep = dir.path().join("a/b/r.json");
        check_output_file(&deep).unwrap();
        assert!(deep.parent().unwrap().is_dir());
        assert_eq!(
            std::fs::read_dir(deep.parent().unwrap()).unwrap().count(),
            0
        );
    }

    #[test]
    fn only_regular_files_are_read() {
        let err = read_regular_file(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("a device"), "{err}");
        let err = read_regular_file(Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
    }
}
