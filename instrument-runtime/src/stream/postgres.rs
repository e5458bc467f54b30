//! The PostgreSQL sink (feature `postgres`): the records in `instrument_records`, partitioned by
//! day on the record's time; each batch is copied (`COPY`) into a session table and moved over
//! by one `INSERT ... ON CONFLICT DO NOTHING`, so a retried batch stores nothing twice.
//!
//! On its first connection the sink applies [`MIGRATIONS`] not yet applied (recorded in
//! `instrument_schema_migrations`, under an advisory lock so two processes starting together do
//! not race), creates the partitions a batch needs, and once a day drops the partitions older than
//! the retention.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postgres::{Client, NoTls};

use super::envelope::record_json;
use super::event::{Record, RecordData};
use super::sink::{Origin, Sink, SinkError};
use crate::format::civil_from_days;

/// The schema's migrations, in order: version and SQL. Each is applied once per database.
pub const MIGRATIONS: &[(i32, &str)] =
    &[(1, include_str!("../../migrations/0001_stream_records.sql"))];

/// How long connecting may take before the batch fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The advisory lock the migrations are applied under (any constant of ours).
const MIGRATION_LOCK: i64 = 0x0069_6e73_7472_756d;
const MILLIS_PER_DAY: u64 = 86_400_000;

/// Stores the stream in PostgreSQL.
///
/// ```no_run
/// use instrument_runtime::stream::{self, PostgresSink, StreamConfig};
///
/// let sink = PostgresSink::new("postgresql://postgres@127.0.0.1:5432/postgres", 90);
/// stream::start(StreamConfig::default(), vec![Box::new(sink)]).unwrap();
/// ```
pub struct PostgresSink {
    url: String,
    retention_days: u32,
    client: Option<Client>,
    /// Days whose partition exists.
    partitions: BTreeSet<u64>,
    /// The day old partitions were last dropped.
    pruned_on: Option<u64>,
}

impl PostgresSink {
    /// A sink to the database at `url` keeping `retention_days` days of records; it connects on
    /// its first batch.
    pub fn new(url: &str, retention_days: u32) -> Self {
        Self {
            url: url.to_owned(),
            retention_days,
            client: None,
            partitions: BTreeSet::new(),
            pruned_on: None,
        }
    }

    fn connect(&mut self) -> Result<&mut Client, postgres::Error> {
        if self.client.is_none() {
            let mut config: postgres::Config = self.url.parse()?;
            // Daily partitions are bounded by UTC dates.
            config
                .connect_timeout(CONNECT_TIMEOUT)
                .options("-c TimeZone=UTC");
            let mut client = config.connect(NoTls)?;
            migrate(&mut client)?;
            self.partitions.clear();
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("just set"))
    }

    fn write(&mut self, batch: &[Arc<Record>], origin: &Origin) -> Result<(), Failure> {
        let today = unix_ms(SystemTime::now()) / MILLIS_PER_DAY;
        let days: BTreeSet<u64> = (batch.iter())
            .map(|record| record.time_unix_ms / MILLIS_PER_DAY)
            .filter(|day| !self.partitions.contains(day))
            .collect();
        let retention = u64::from(self.retention_days);
        let prune = self.pruned_on != Some(today);
        let client = self.connect()?;
        for &day in &days {
            client.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF instrument_records \
                 FOR VALUES FROM ('{}') TO ('{}')",
                partition(day),
                date(day),
                date(day + 1)
            ))?;
        }
        if prune {
            drop_partitions_before(client, today.saturating_sub(retention))?;
        }
        insert(client, batch, origin)?;
        self.partitions.extend(days);
        if prune {
            self.pruned_on = Some(today);
        }
        Ok(())
    }
}

impl Sink for PostgresSink {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn send(&mut self, batch: &[Arc<Record>], origin: &Origin) -> Result<(), SinkError> {
        self.write(batch, origin).map_err(|error| {
            // A broken connection is replaced on the next batch.
            if self.client.as_ref().is_none_or(Client::is_closed) {
                self.client = None;
            }
            SinkError(format!("postgres: {error}"))
        })
    }
}

/// Applies the migrations not yet applied, in one transaction.
fn migrate(client: &mut Client) -> Result<(), postgres::Error> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    transaction.batch_execute(
        "CREATE TABLE IF NOT EXISTS instrument_schema_migrations (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )?;
    for (version, sql) in MIGRATIONS {
        let applied = transaction.query_opt(
            "SELECT 1 FROM instrument_schema_migrations WHERE version = $1",
            &[version],
        )?;
        if applied.is_none() {
            transaction.batch_execute(sql)?;
            transaction.execute(
                "INSERT INTO instrument_schema_migrations (version) VALUES ($1)",
                &[version],
            )?;
        }
    }
    transaction.commit()
}

/// Columns of one row, in the `COPY`'s order.
const COLUMNS: &str =
    "id, time, kind, name, run_id, host, service, correlation_id, tags, calls, value, data";

/// Stores the batch: `COPY` into a session table, then one `INSERT ... SELECT` that skips the
/// records already stored, in one transaction. Several times faster than a multi-row `INSERT`
/// with a parameter per value, which the server has to parse and plan whole for every batch.
fn insert(client: &mut Client, batch: &[Arc<Record>], origin: &Origin) -> Result<(), Failure> {
    let mut text = String::with_capacity(batch.len() * 512);
    for record in batch {
        copy_row(&mut text, record, origin);
    }
    let mut transaction = client.transaction()?;
    transaction.batch_execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS instrument_records_incoming \
         (LIKE instrument_records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    )?;
    let mut writer = transaction.copy_in(&format!(
        "COPY instrument_records_incoming ({COLUMNS}) FROM STDIN"
    ))?;
    std::io::Write::write_all(&mut writer, text.as_bytes())?;
    writer.finish()?;
    transaction.batch_execute(&format!(
        "INSERT INTO instrument_records ({COLUMNS}) \
         SELECT {COLUMNS} FROM instrument_records_incoming ON CONFLICT (id, time) DO NOTHING"
    ))?;
    Ok(transaction.commit()?)
}

/// Why a batch was not stored: the server's answer, or the connection while copying.
#[derive(Debug)]
enum Failure {
    Postgres(postgres::Error),
    Copy(std::io::Error),
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Self {
        Self::Postgres(error)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self::Copy(error)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgres(error) => write!(f, "{error}"),
            Self::Copy(error) => write!(f, "copying the batch: {error}"),
        }
    }
}

/// One row in `COPY`'s text format: tab-separated, `\N` for NULL.
fn copy_row(text: &mut String, record: &Record, origin: &Origin) {
    let data = record_json(record);
    let tags = data
        .get("tags")
        .map_or_else(|| "{}".to_owned(), ToString::to_string);
    let time = crate::format::rfc3339(UNIX_EPOCH + Duration::from_millis(record.time_unix_ms));
    let fields: [Option<&str>; 9] = [
        Some(&record.id),
        Some(&time),
        Some(record.kind().as_str()),
        Some(&record.name),
        Some(&origin.run_id),
        Some(&origin.host),
        Some(&origin.service),
        record.correlation_id.as_deref(),
        Some(&tags),
    ];
    for field in fields {
        copy_field(text, field);
        text.push('\t');
    }
    copy_field(
        text,
        calls(record).map(|calls| calls.to_string()).as_deref(),
    );
    text.push('\t');
    copy_field(
        text,
        value(record).map(|value| value.to_string()).as_deref(),
    );
    text.push('\t');
    copy_field(text, Some(&serde_json::Value::Object(data).to_string()));
    text.push('\n');
}

/// A field of `COPY`'s text format, with its backslashes and control characters escaped.
fn copy_field(text: &mut String, field: Option<&str>) {
    let Some(field) = field else {
        text.push_str("\\N");
        return;
    };
    for c in field.chars() {
        match c {
            '\\' => text.push_str("\\\\"),
            '\t' => text.push_str("\\t"),
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            c => text.push(c),
        }
    }
}

fn calls(record: &Record) -> Option<i64> {
    match &record.data {
        RecordData::Interval(interval) => i64::try_from(interval.calls).ok(),
        _ => None,
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "a column for plotting; the exact figure is in `data`"
)]
fn value(record: &Record) -> Option<f64> {
    let value = match &record.data {
        RecordData::Timing { duration_ns } => *duration_ns as f64,
        RecordData::Counter { count } => *count as f64,
        RecordData::Gauge { value, .. } => *value,
        RecordData::Rate { percent } => *percent,
        RecordData::Alert(alert) => alert.value,
        _ => return None,
    };
    // NaN and the infinities stay in `data`; the column is for plotting.
    value.is_finite().then_some(value)
}

/// Drops the daily partitions of days before `first_kept`.
fn drop_partitions_before(client: &mut Client, first_kept: u64) -> Result<(), postgres::Error> {
    let rows = client.query(
        "SELECT child.relname FROM pg_inherits \
         JOIN pg_class parent ON parent.oid = pg_inherits.inhparent \
         JOIN pg_class child ON child.oid = pg_inherits.inhrelid \
         WHERE parent.relname = 'instrument_records'",
        &[],
    )?;
    let oldest = partition(first_kept);
    for row in rows {
        let name: String = row.get(0);
        // Partition names sort as their days do.
        if name.starts_with("instrument_records_p") && name < oldest {
            client.batch_execute(&format!("DROP TABLE IF EXISTS {name}"))?;
        }
    }
    Ok(())
}

/// The partition of a day (days since the Unix epoch): `instrument_records_p20260131`.
fn partition(day: u64) -> String {
    format!("instrument_records_p{}", date(day).replace('-', ""))
}

fn date(day: u64) -> String {
    let (year, month, day) = civil_from_days(day);
    format!("{year:04}-{month:02}-{day:02}")
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}
