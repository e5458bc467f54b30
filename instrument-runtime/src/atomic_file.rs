//! Writing a file so that readers see the old content or the new, never half of one.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `contents` to `path` through a temporary file in the same directory and a rename, which
/// is atomic on the same file system: a crash leaves either the previous file or the new one.
///
/// # Errors
///
/// Creating the directory, writing or renaming failed; the previous file is then untouched.
///
/// ```
/// let path = std::env::temp_dir().join("instrument-write-atomically-doc").join("out.txt");
/// instrument_runtime::write_atomically(&path, b"whole or nothing").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"whole or nothing");
/// ```
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    static UNIQUE: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    if let Some(dir) = dir {
        fs::create_dir_all(dir)?;
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let temp_name = format!(
        ".{}.{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    );
    let temp = dir.map_or_else(
        || Path::new(&temp_name).to_path_buf(),
        |dir| dir.join(&temp_name),
    );
    let written = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("instrument-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_missing_directories_replaces_and_leaves_no_temporary() {
        let dir = scratch_dir("replace");
        let path = dir.join("nested").join("report.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let entries: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(entries.len(), 1, "a temporary file was left behind");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_previous_file() {
        let dir = scratch_dir("keep");
        let path = dir.join("report.json");
        write_atomically(&path, b"good").unwrap();
        // A directory where the target should be: the rename fails, the old content stays.
        let blocked = dir.join("blocked");
        fs::create_dir_all(blocked.join("x")).unwrap();
        assert!(write_atomically(&blocked, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"good");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            2,
            "a temporary file was left behind"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
