-- Aggregates that count each event once, and the hourly ones the dashboard reads.
--
-- Until now the views read audit_events' inserts: a retried batch was dropped by
-- its insert token, but the same event arriving in another batch (a replay, a
-- restarted sink with other batch boundaries) was counted twice, for ever, while
-- audit_events FINAL showed it once. The views now read events_first instead: the
-- first stored copy of each event, the narrow columns the aggregates and the
-- dashboard's lists need. Its view drops, at insert, every event already in it:
-- the lookup uses events_first's sorting key (event_time, event_id), and a sink
-- writes in time order, so a batch reads only the few granules of its own time
-- range. Copies inside one batch are dropped by LIMIT 1 BY event_id.
-- A replay is the same event again, so keeping the first copy or the last is the
-- same row; the one case where they differ (an event enriched twice, differently)
-- is counted as first stored.
-- Inside a materialized view every mention of audit_events is the inserted block
-- (checked on chDB 26.9), so the inner IN reads the block's ids, not the table.
CREATE TABLE IF NOT EXISTS events_first
(
    event_id UUID,
    event_time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    event_type LowCardinality(String),
    phase LowCardinality(String),
    user_id LowCardinality(String),
    tenant_id LowCardinality(String),
    session_id String CODEC(ZSTD(1)),
    server_id LowCardinality(String),
    tool_name LowCardinality(String),
    status LowCardinality(String),
    duration_us UInt64 CODEC(T64, ZSTD(1)),
    risk_score UInt8,
    risk_level LowCardinality(String),
    risk_reasons Array(LowCardinality(String)),
    retention_days UInt16
)
ENGINE = MergeTree
PARTITION BY toMonday(event_time)
ORDER BY (event_time, event_id)
TTL toDateTime(least(toDateTime64(event_time, 0, 'UTC') + toIntervalDay(retention_days), toDateTime64('2106-02-07 00:00:00', 0, 'UTC')))
SETTINGS non_replicated_deduplication_window = 10000, merge_with_ttl_timeout = 3600;

-- Hourly counts of every event by type, phase, server, tool, status and risk level,
-- with the duration quantiles: a call, a failure and high risk (sinks/tables.py) are
-- conditions on these columns, so every panel keeps their one definition.
CREATE TABLE IF NOT EXISTS events_hourly
(
    hour DateTime('UTC'),
    event_type LowCardinality(String),
    phase LowCardinality(String),
    server_id LowCardinality(String),
    tool_name LowCardinality(String),
    status LowCardinality(String),
    risk_level LowCardinality(String),
    events SimpleAggregateFunction(sum, UInt64),
    duration_us AggregateFunction(quantiles(0.5, 0.95, 0.99), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, event_type, phase, server_id, tool_name, status, risk_level)
SETTINGS non_replicated_deduplication_window = 10000;

-- Daily counts per user gain what the dashboard's user figures need: calls, tool
-- calls and high-risk calls, and the highest risk score. By day, not hour: 2,000
-- users over 30 days are 60,000 rows instead of 1.4 M, and a window's part day
-- comes from events_first (readside/dashboard/queries.py).
ALTER TABLE user_activity_daily ADD COLUMN IF NOT EXISTS high_risk_calls SimpleAggregateFunction(sum, UInt64);

ALTER TABLE user_activity_daily ADD COLUMN IF NOT EXISTS tool_calls SimpleAggregateFunction(sum, UInt64);

ALTER TABLE user_activity_daily ADD COLUMN IF NOT EXISTS max_risk SimpleAggregateFunction(max, UInt8);

-- Opening one event by its id alone (an alert's evidence) without reading every id.
ALTER TABLE audit_events ADD INDEX IF NOT EXISTS event_idx event_id TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE audit_events MATERIALIZE INDEX event_idx;

DROP VIEW IF EXISTS events_first_mv;

DROP VIEW IF EXISTS calls_hourly_mv;

DROP VIEW IF EXISTS user_activity_daily_mv;

DROP VIEW IF EXISTS risk_daily_mv;

DROP VIEW IF EXISTS events_hourly_mv;

CREATE MATERIALIZED VIEW events_first_mv TO events_first AS
SELECT event_id, event_time, event_type, phase, user_id, tenant_id, session_id, server_id,
       tool_name, status, duration_us, risk_score, risk_level, risk_reasons, retention_days
FROM audit_events
WHERE (event_time, event_id) NOT IN (
    SELECT event_time, event_id FROM events_first
    WHERE (event_time, event_id) IN (SELECT event_time, event_id FROM audit_events))
LIMIT 1 BY event_id;

CREATE MATERIALIZED VIEW calls_hourly_mv TO calls_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    server_id,
    tool_name,
    count() AS calls,
    countIf(status IN ('ERROR', 'DENIED', 'TIMEOUT', 'CANCELLED')) AS errors,
    quantilesState(0.5, 0.95, 0.99)(duration_us) AS duration_us
FROM events_first
WHERE phase = 'RESULT'
GROUP BY hour, server_id, tool_name;

CREATE MATERIALIZED VIEW user_activity_daily_mv TO user_activity_daily AS
SELECT
    toDate(event_time) AS day,
    user_id,
    tenant_id,
    count() AS events,
    countIf(status IN ('ERROR', 'DENIED', 'TIMEOUT', 'CANCELLED')) AS errors,
    countIf(risk_level IN ('HIGH', 'CRITICAL')) AS high_risk,
    uniqState(toString(tool_name)) AS tools,
    uniqState(session_id) AS sessions,
    countIf(phase = 'RESULT' AND risk_level IN ('HIGH', 'CRITICAL')) AS high_risk_calls,
    countIf(event_type = 'TOOL_CALL' AND phase = 'RESULT') AS tool_calls,
    max(risk_score) AS max_risk
FROM events_first
GROUP BY day, user_id, tenant_id;

CREATE MATERIALIZED VIEW risk_daily_mv TO risk_daily AS
SELECT
    toDate(event_time) AS day,
    server_id,
    risk_level,
    count() AS events,
    sum(toUInt64(risk_score)) AS risk_score_sum
FROM events_first
GROUP BY day, server_id, risk_level;

CREATE MATERIALIZED VIEW events_hourly_mv TO events_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    event_type, phase, server_id, tool_name, status, risk_level,
    count() AS events,
    quantilesState(0.5, 0.95, 0.99)(duration_us) AS duration_us
FROM events_first
GROUP BY hour, event_type, phase, server_id, tool_name, status, risk_level;

-- Rebuild every aggregate from what is stored, each event once (FINAL). Re-running
-- this migration after an interruption starts again from empty tables.
TRUNCATE TABLE events_first;

TRUNCATE TABLE calls_hourly;

TRUNCATE TABLE user_activity_daily;

TRUNCATE TABLE risk_daily;

TRUNCATE TABLE events_hourly;

INSERT INTO events_first
SELECT event_id, event_time, event_type, phase, user_id, tenant_id, session_id, server_id,
       tool_name, status, duration_us, risk_score, risk_level, risk_reasons, retention_days
FROM audit_events FINAL;
