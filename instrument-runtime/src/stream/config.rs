//! The pipeline's settings, from code or from the environment.

use std::time::Duration;

/// The buffer's capacity in records ([`StreamConfig::buffer_size`]).
pub const BUFFER_SIZE_ENV: &str = "INSTRUMENT_BUFFER_SIZE";
/// Records per batch sent to a sink ([`StreamConfig::batch_size`]).
pub const BATCH_SIZE_ENV: &str = "INSTRUMENT_BATCH_SIZE";
/// Milliseconds between flushes ([`StreamConfig::flush_interval`]).
pub const FLUSH_INTERVAL_ENV: &str = "INSTRUMENT_FLUSH_INTERVAL_MS";
/// The Kafka bootstrap servers (`host:port,...`): set, the Kafka sink streams (feature `kafka`).
pub const KAFKA_ENV: &str = "INSTRUMENT_KAFKA_BOOTSTRAP_SERVERS";
/// The PostgreSQL connection string (`postgresql://user@host:port/db`): set, the PostgreSQL sink
/// stores (feature `postgres`).
pub const POSTGRES_ENV: &str = "INSTRUMENT_POSTGRES_URL";
/// The service name every record carries (default: the program's file name).
pub const SERVICE_ENV: &str = "INSTRUMENT_SERVICE_NAME";
/// Days of records the PostgreSQL sink keeps ([`StreamConfig::retention_days`]).
pub const RETENTION_DAYS_ENV: &str = "INSTRUMENT_RETENTION_DAYS";

/// How the pipeline buffers and flushes, and where it sends.
///
/// ```
/// use instrument_runtime::stream::StreamConfig;
///
/// let config = StreamConfig::default();
/// assert_eq!((config.buffer_size, config.batch_size), (10_000, 100));
/// assert_eq!(config.flush_interval, std::time::Duration::from_secs(1));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StreamConfig {
    /// Records the buffer holds; when full, the oldest is dropped and counted (10,000).
    pub buffer_size: usize,
    /// A sink is sent a batch as soon as this many records wait (100).
    pub batch_size: usize,
    /// ... or when this long passed since its last batch; also the period of the per-node interval
    /// records (1 s).
    pub flush_interval: Duration,
    /// How long the final flush at exit may take (5 s).
    pub shutdown_deadline: Duration,
    /// The service name in every record.
    pub service: String,
    /// Kafka bootstrap servers, for the Kafka sink.
    pub kafka_bootstrap_servers: Option<String>,
    /// PostgreSQL connection string, for the PostgreSQL sink.
    pub postgres_url: Option<String>,
    /// Days of daily partitions the PostgreSQL sink keeps (90).
    pub retention_days: u32,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            buffer_size: 10_000,
            batch_size: 100,
            flush_interval: Duration::from_secs(1),
            shutdown_deadline: Duration::from_secs(5),
            service: default_service(),
            kafka_bootstrap_servers: None,
            postgres_url: None,
            retention_days: 90,
        }
    }
}

impl StreamConfig {
    /// The defaults, with every variable set in the environment applied (a value that does not
    /// parse is reported on stderr and ignored).
    ///
    /// ```
    /// let config = instrument_runtime::stream::StreamConfig::from_env();
    /// assert!(config.batch_size > 0);
    /// ```
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let mut config = Self::default();
        let number = |name: &str| -> Option<u64> {
            let text = var(name)?;
            match text.trim().parse::<u64>() {
                Ok(value) if value > 0 => Some(value),
                _ => {
                    eprintln!("instrument: ignoring {name}={text:?}: expected a positive integer");
                    None
                }
            }
        };
        if let Some(size) = number(BUFFER_SIZE_ENV) {
            config.buffer_size = usize::try_from(size).unwrap_or(usize::MAX);
        }
        if let Some(size) = number(BATCH_SIZE_ENV) {
            config.batch_size = usize::try_from(size).unwrap_or(usize::MAX);
        }
        if let Some(ms) = number(FLUSH_INTERVAL_ENV) {
            config.flush_interval = Duration::from_millis(ms);
        }
        if let Some(days) = number(RETENTION_DAYS_ENV) {
            config.retention_days = u32::try_from(days).unwrap_or(u32::MAX);
        }
        let text = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        if let Some(service) = text(SERVICE_ENV) {
            config.service = service;
        }
        config.kafka_bootstrap_servers = text(KAFKA_ENV);
        config.postgres_url = text(POSTGRES_ENV);
        config
    }
}

/// The program's file name, as the report directory names it.
fn default_service() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_sets_sizes_interval_and_sinks_and_bad_values_are_ignored() {
        let vars = [
            (BUFFER_SIZE_ENV, "500"),
            (BATCH_SIZE_ENV, "ten"),
            (FLUSH_INTERVAL_ENV, "250"),
            (KAFKA_ENV, "127.0.0.1:9092"),
            (POSTGRES_ENV, " "),
            (SERVICE_ENV, "checkout"),
        ];
        let config = StreamConfig::from_vars(|name| {
            (vars.iter().find(|(key, _)| *key == name)).map(|(_, value)| (*value).to_owned())
        });
        assert_eq!(config.buffer_size, 500);
        assert_eq!(config.batch_size, 100);
        assert_eq!(config.flush_interval, Duration::from_millis(250));
        assert_eq!(
            config.kafka_bootstrap_servers.as_deref(),
            Some("127.0.0.1:9092")
        );
        assert_eq!(config.postgres_url, None);
        assert_eq!(config.service, "checkout");
    }
}
