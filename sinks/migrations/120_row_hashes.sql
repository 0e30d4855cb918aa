-- Everything a reader relies on is covered by a hash the digests can seal, and
-- a later copy of a stored event never replaces it silently (issue 14).
--
-- content_hash: SHA-256 of the row as stored, every column but the personal
-- values (which erasure clears), legal_hold (holds change it) and enriched_time
-- (when a replay re-enriched, not what it said), plus personal_hash: SHA-256 of
-- the personal values as they arrived. Erasure clears the values and keeps both
-- hashes, so verify tells a recorded erasure (subject in erased_subjects, values
-- cleared) from an alteration. The expressions are built in sinks/tables.py
-- (row_hashes) and computed by the sink's INSERT, never by a column default: an
-- UPDATE must not recompute them.
ALTER TABLE audit_events
    ADD COLUMN IF NOT EXISTS origin_key_id LowCardinality(String),
    ADD COLUMN IF NOT EXISTS personal_hash String CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS content_hash String CODEC(ZSTD(1));

ALTER TABLE audit_alerts
    ADD COLUMN IF NOT EXISTS personal_hash String CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS content_hash String CODEC(ZSTD(1));

-- The sink inserts events here; the views below move each block on, once. The
-- table stores nothing (Null engine): its structure is audit_events'. A later
-- migration adding a column to audit_events adds it here too and re-creates
-- audit_events_first_mv (SELECT * is expanded when a view is created).
CREATE TABLE IF NOT EXISTS audit_events_incoming AS audit_events ENGINE = Null;

-- Keep the first: audit_events keeps the latest enriched_time of an event
-- (ReplacingMergeTree), so a copy of an already stored event is not stored at
-- all. The one later copy that replaces is the processors' INCOMPLETE version
-- of an attempt that never got its result. Lookups use the sorting key prefix
-- (user_id, event_time, event_id): a few granules per batch, not a scan.
-- Inside a view a subquery on the source table reads the inserted block.
CREATE MATERIALIZED VIEW IF NOT EXISTS audit_events_first_mv TO audit_events AS
SELECT * FROM audit_events_incoming
WHERE (user_id, event_time, event_id, toUInt8(call_state = 'INCOMPLETE')) NOT IN (
    SELECT user_id, event_time, event_id, toUInt8(0) FROM audit_events
    WHERE (user_id, event_time, event_id) IN
        (SELECT user_id, event_time, event_id FROM audit_events_incoming)
    UNION ALL
    SELECT user_id, event_time, event_id, toUInt8(1) FROM audit_events
    WHERE call_state = 'INCOMPLETE' AND (user_id, event_time, event_id) IN
        (SELECT user_id, event_time, event_id FROM audit_events_incoming)
);

-- A copy whose content differs from the stored event: the record of the attempt
-- (the sink alerts on each new one, detector stored_copy_conflict).
CREATE TABLE IF NOT EXISTS audit_conflicts
(
    event_id UUID,
    user_id LowCardinality(String),
    event_time DateTime64(6, 'UTC'),
    stream_id LowCardinality(String),
    seq UInt64,
    kept_hash String,
    refused_hash String,
    kept_call_state LowCardinality(String),
    refused_call_state LowCardinality(String),
    kept_risk_level LowCardinality(String),
    refused_risk_level LowCardinality(String),
    refused_enriched_time DateTime64(6, 'UTC'),
    detected_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (detected_at, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS audit_conflicts_mv TO audit_conflicts AS
SELECT
    n.event_id AS event_id, n.user_id AS user_id, n.event_time AS event_time,
    n.stream_id AS stream_id, n.seq AS seq,
    o.content_hash AS kept_hash, n.content_hash AS refused_hash,
    o.call_state AS kept_call_state, n.call_state AS refused_call_state,
    o.risk_level AS kept_risk_level, n.risk_level AS refused_risk_level,
    n.enriched_time AS refused_enriched_time, now64(6) AS detected_at
FROM audit_events_incoming AS n
INNER JOIN (
    SELECT user_id, event_time, event_id, content_hash, call_state, risk_level
    FROM audit_events
    WHERE (user_id, event_time, event_id) IN
        (SELECT user_id, event_time, event_id FROM audit_events_incoming)
) AS o ON n.user_id = o.user_id AND n.event_time = o.event_time AND n.event_id = o.event_id
WHERE n.content_hash != o.content_hash
    AND NOT (n.call_state = 'INCOMPLETE' AND o.call_state != 'INCOMPLETE');
