-- The records of the streaming pipeline, one table partitioned by day on the record's time.
-- Partitions are created by the sink as records arrive and dropped past the retention.
CREATE TABLE IF NOT EXISTS instrument_records (
    id             text             NOT NULL,
    time           timestamptz      NOT NULL,
    kind           text             NOT NULL,
    name           text             NOT NULL,
    run_id         text             NOT NULL,
    host           text             NOT NULL,
    service        text             NOT NULL,
    correlation_id text,
    tags           jsonb            NOT NULL DEFAULT '{}',
    -- An interval's calls; NULL for other kinds.
    calls          bigint,
    -- A timing's nanoseconds, a counter's count, a gauge's value, a rate's percent.
    value          double precision,
    -- The whole record, as in the Kafka event's `data`.
    data           jsonb            NOT NULL,
    stored_at      timestamptz      NOT NULL DEFAULT now(),
    -- A record's time never changes, so (id, time) deduplicates a retried batch.
    PRIMARY KEY (id, time)
) PARTITION BY RANGE (time);

CREATE INDEX IF NOT EXISTS instrument_records_name_time ON instrument_records (name, time);
CREATE INDEX IF NOT EXISTS instrument_records_kind_time ON instrument_records (kind, time);
CREATE INDEX IF NOT EXISTS instrument_records_tags ON instrument_records USING GIN (tags);
CREATE INDEX IF NOT EXISTS instrument_records_correlation
    ON instrument_records (correlation_id) WHERE correlation_id IS NOT NULL;
