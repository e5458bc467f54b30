//! The run id: which process wrote a file.

/// This process's run id: 16 hex digits, drawn once per process, in every file the process
/// writes at exit (`report.json`, every export, `/metrics`), so one run's files can be told from
/// another's.
///
/// ```
/// let id = instrument_runtime::record::run_id();
/// assert_eq!(id.len(), 16);
/// assert_eq!(id, instrument_runtime::snapshot().run_id);
/// ```
pub fn run_id() -> &'static str {
    static RUN_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUN_ID.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // `RandomState` is seeded from the system's randomness; the time and the process id
        // keep two ids apart even where that seed would repeat.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(crate::record::clock::unix_ms_now());
        hasher.write_u32(std::process::id());
        format!("{:016x}", hasher.finish())
    })
}
