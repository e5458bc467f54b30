//! Writing a file so that readers see the old content or the new, never half of one, and
//! clearing away the temporary files of writers killed halfway.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `contents` to `path` through a temporary file in the same directory and a rename, which
/// is atomic on the same file system: a crash leaves either the previous file or the new one.
///
/// The temporary file is `.NAME.PID.RUN.N.tmp` (process id, [`run_id`](crate::record::run_id), a
/// counter); a kill between its creation and the rename leaves it behind, and the report at exit
/// removes such files once their process is gone.
///
/// # Errors
///
/// Creating the directory, writing or renaming failed; the previous file is then untouched.
///
/// ```
/// let path = std::env::temp_dir().join("instrument-write-atomically-doc").join("out.txt");
/// instrument_runtime::export::write_atomically(&path, b"whole or nothing").unwrap();
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
        ".{}.{}.{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        crate::record::run::run_id(),
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

/// Removes the temporary files [`write_atomically`] left in `dir` for the files named `names`
/// when its process was killed mid-write: those of processes that are gone, and those carrying
/// this process's id but another run's (an earlier process that had the same id, as every
/// container's first process does). Another live process's are kept: it may be writing them
/// now. Files of the older `.NAME.PID.N.tmp` form are judged by their process alone. Returns how
/// many were removed; a directory that cannot be read has none.
///
/// Liveness is `kill(pid, 0)`: a writer in another PID namespace sharing the directory looks
/// dead from here, so such writers need directories of their own (as they do anyway: each run
/// replaces `report.json`).
pub(crate) fn remove_stale_temporaries(dir: &Path, names: &[&str]) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.file_name().to_str().is_some_and(|file_name| {
                temporary_of(file_name, names).is_some_and(|(pid, run)| is_stale(pid, run))
            })
        })
        .filter(|entry| fs::remove_file(entry.path()).is_ok())
        .count()
}

/// The writer of a temporary file of one of `names`: its process id, and its run id when the
/// name carries one.
fn temporary_of<'a>(file_name: &'a str, names: &[&str]) -> Option<(u32, Option<&'a str>)> {
    let rest = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (rest, counter) = rest.rsplit_once('.')?;
    counter.parse::<u64>().ok()?;
    let (rest, field) = rest.rsplit_once('.')?;
    if names.contains(&rest) {
        // `.NAME.PID.N.tmp`, as written before temporaries carried the run id.
        return Some((field.parse().ok()?, None));
    }
    let (name, pid) = rest.rsplit_once('.')?;
    let is_run_id = field.len() == 16 && field.bytes().all(|byte| byte.is_ascii_hexdigit());
    (names.contains(&name) && is_run_id).then_some((pid.parse().ok()?, Some(field)))
}

fn is_stale(pid: u32, run: Option<&str>) -> bool {
    if pid == std::process::id() {
        run != Some(crate::record::run::run_id())
    } else {
        !is_alive(pid)
    }
}

#[cfg(unix)]
fn is_alive(pid: u32) -> bool {
    // 0 and values beyond `pid_t` name no process (`kill` would read them as process groups).
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled; nothing is sent.
    let status = unsafe { libc::kill(pid, 0) };
    // EPERM: it exists, under another user.
    status == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Without a cheap liveness check, every other process counts as alive: its files are kept.
#[cfg(not(unix))]
fn is_alive(_pid: u32) -> bool {
    true
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

    #[test]
    fn temporaries_are_read_in_both_forms_for_the_given_names_only() {
        let names = ["report.json", "performance_metrics.prom"];
        let run = "0123456789abcdef";
        assert_eq!(
            temporary_of(&format!(".report.json.42.{run}.7.tmp"), &names),
            Some((42, Some(run)))
        );
        assert_eq!(
            temporary_of(".performance_metrics.prom.42.0.tmp", &names),
            Some((42, None))
        );
        for other in [
            ".other.json.42.0.tmp",
            ".report.json.42.tmp",
            "report.json.42.0.tmp",
            ".report.json.x.0.tmp",
            ".report.json.42.0123.0.tmp",
            ".report.json.42.0.part",
        ] {
            assert_eq!(temporary_of(other, &names), None, "{other}");
        }
    }

    #[cfg(unix)]
    #[test]
    #[cfg_attr(
        miri,
        ignore = "spawns a process and calls kill(2), which Miri does not emulate"
    )]
    fn stale_temporaries_go_and_live_writers_keep_theirs() {
        let dir = scratch_dir("stale");
        fs::create_dir_all(&dir).unwrap();
        // A process that has ended: its id is free (for the moment of this test).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let ours = std::process::id();
        let run = crate::record::run::run_id();
        let stale = [
            format!(".report.json.{dead}.0123456789abcdef.3.tmp"),
            format!(".report.json.{dead}.1.tmp"),
            format!(".report.json.{ours}.fedcba9876543210.0.tmp"),
            format!(".report.json.{ours}.0.tmp"),
        ];
        let kept = [
            format!(".report.json.{ours}.{run}.0.tmp"),
            // The parent of this test: alive.
            format!(
                ".report.json.{}.0123456789abcdef.0.tmp",
                std::os::unix::process::parent_id()
            ),
            format!(".other.txt.{dead}.0.tmp"),
            "report.json".to_owned(),
        ];
        for name in stale.iter().chain(&kept) {
            fs::write(dir.join(name), b"half").unwrap();
        }
        assert_eq!(
            remove_stale_temporaries(&dir, &["report.json"]),
            stale.len()
        );
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = kept.to_vec();
        expected.sort();
        assert_eq!(left, expected);
        assert_eq!(
            remove_stale_temporaries(&dir.join("missing"), &["report.json"]),
            0
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
