//! What the process reads about itself from Linux's `/proc` (see `proc(5)`): CPU time, threads
//! and memory figures, for the memory snapshot, the resource sampler and the exporters.

use std::fs;
use std::io;
use std::time::Duration;

/// The CPU time the process has used so far (user and system, all threads) and its number of
/// threads, from `/proc/self/stat`.
pub(crate) fn cpu_time_and_threads() -> io::Result<(Duration, u64)> {
    let stat = fs::read_to_string("/proc/self/stat")?;
    let (cpu_ticks, threads) = parse_stat(&stat).ok_or_else(|| bad("/proc/self/stat"))?;
    Ok((
        ticks_to_duration(cpu_ticks, clock_ticks_per_second()?),
        threads,
    ))
}

/// `utime + stime` (fields 14 and 15, in clock ticks) and `num_threads` (field 20) of
/// `/proc/self/stat`. The command name (field 2) may hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn parse_stat(stat: &str) -> Option<(u64, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // `after_name` starts at field 3 (the state).
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    Some((field(14)?.checked_add(field(15)?)?, field(20)?))
}

/// The value of a `Name:   1234 kB` line, in KiB.
pub(crate) fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(name))?;
    let mut words = line[name.len()..].split_whitespace();
    let value = words.next()?.parse().ok()?;
    matches!(words.next(), Some("kB") | None).then_some(value)
}

fn ticks_to_duration(ticks: u64, ticks_per_second: u64) -> Duration {
    let ticks_per_second = ticks_per_second.max(1);
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(ticks_per_second);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The unit of `/proc/<pid>/stat`'s CPU times: `sysconf(_SC_CLK_TCK)`.
#[cfg(target_os = "linux")]
fn clock_ticks_per_second() -> io::Result<u64> {
    // SAFETY: `sysconf` only reads its argument and the C library's configuration.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks)
        .ok()
        .filter(|&ticks| ticks > 0)
        .ok_or_else(|| io::Error::other("sysconf(_SC_CLK_TCK) failed"))
}

#[cfg(not(target_os = "linux"))]
fn clock_ticks_per_second() -> io::Result<u64> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "resource sampling reads /proc: Linux only",
    ))
}

pub(crate) fn bad(file: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("could not parse {file}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    150 25 0 0 20 0 7 0 12345 1000000 2500 18446744073709551615";
        assert_eq!(parse_stat(stat), Some((175, 7)));
        assert_eq!(parse_stat("4242 (truncated) S 1 2"), None);
        assert_eq!(parse_stat("no name here"), None);
    }

    #[test]
    fn kib_fields() {
        let status = "Name:\tdemo\nVmPeak:\t  20000 kB\nVmRSS:\t   5120 kB\nThreads:\t3\n";
        assert_eq!(kib_field(status, "VmRSS:"), Some(5120));
        assert_eq!(kib_field(status, "VmSwap:"), None);
        assert_eq!(
            kib_field("MemTotal:       16318480 kB\n", "MemTotal:"),
            Some(16_318_480)
        );
        assert_eq!(kib_field("VmRSS: lots kB\n", "VmRSS:"), None);
        assert_eq!(kib_field("VmRSS: 5 MB\n", "VmRSS:"), None);
    }

    #[test]
    fn ticks_convert_at_the_given_rate() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2_500));
        assert_eq!(ticks_to_duration(3, 1024), Duration::from_nanos(2_929_687));
        assert_eq!(ticks_to_duration(5, 0), Duration::from_secs(5));
    }
}
