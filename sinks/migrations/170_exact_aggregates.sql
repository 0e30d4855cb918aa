-- Aggregates that count each event once, in the version audit_events keeps, and
-- the hourly ones the dashboard reads.
--
-- Until now the views read audit_events' inserts. Migration 120 keeps a copy of a
-- stored event out of audit_events, but two versions of one event still reach it:
-- the processors' INCOMPLETE version of an attempt (which replaces the stored
-- attempt, as FINAL keeps the latest enriched_time), and copies inside one insert
-- (no stored row to refuse them by). Each was counted twice, for ever. The views
-- now read events_first, a log of each event's versions as FINAL sees them (the
-- narrow columns the aggregates and the dashboard's lists need), written by its
-- view from what audit_events stores, so it follows the keep-first rule:
-- - an event it does not hold: the event (of copies inside the insert, the latest
--   enriched), sign 1;
-- - an INCOMPLETE version of one it holds, enriched later: the held version again
--   with sign -1, and the new one with sign 1 and replaces = true;
-- - anything else never reaches it (migration 120 refused it).
-- The aggregates sum the signs, so every count is of each event once, in the
-- version FINAL and the event view show, before any merge. Quantile and
-- distinct-count states cannot take a value back: they take each event's first
-- version (duration, tool and session are the producer's and do not change with
-- enrichment), and max_risk the highest score any version had.
-- Only an INCOMPLETE version looks up what events_first holds: any other row
-- audit_events takes is of an event it did not hold (migration 120's views looked).
-- The lookup reads events_first by its sorting key, (event_time, event_id, ...),
-- and the few INCOMPLETE rows of a batch read a few granules; a batch without
-- one reads none. Inside a materialized view every mention of its source table
-- is the inserted block (checked on chDB 26.9), so the inner IN holds the block's.
-- user_id is part of an event's identity, as in audit_events' sorting key and
-- migration 120's lookup: a copy under another user is another row there too.
-- CollapsingMergeTree: a version and its sign -1 copy share the sorting key and
-- cancel at merge, leaving the kept versions.
CREATE TABLE IF NOT EXISTS events_first
(
    event_id UUID,
    event_time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    enriched_time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    sign Int8,
    replaces Bool,
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
    retention_days UInt16,
    -- The replaced versions are few: the lists skip them without reading every sign.
    INDEX sign_idx sign TYPE minmax GRANULARITY 1,
    -- A user's trail and events: on 10 M unmerged events a user filter on the
    -- time-ordered table took 147 ms (search) and audit_events' trail 220 ms (256 parts).
    PROJECTION by_user (SELECT * ORDER BY user_id, event_time, event_id, enriched_time)
)
ENGINE = CollapsingMergeTree(sign)
PARTITION BY toMonday(event_time)
ORDER BY (event_time, event_id, user_id, enriched_time)
TTL toDateTime(least(toDateTime64(event_time, 0, 'UTC') + toIntervalDay(retention_days), toDateTime64('2106-02-07 00:00:00', 0, 'UTC')))
SETTINGS non_replicated_deduplication_window = 10000, merge_with_ttl_timeout = 3600, deduplicate_merge_projection_mode = 'rebuild';

-- Hourly counts of every event by type, phase, server, tool, status and risk level:
-- a call, a failure and high risk (sinks/tables.py) are conditions on these
-- columns, so every panel keeps their one definition.
CREATE TABLE IF NOT EXISTS events_hourly
(
    hour DateTime('UTC'),
    event_type LowCardinality(String),
    phase LowCardinality(String),
    server_id LowCardinality(String),
    tool_name LowCardinality(String),
    status LowCardinality(String),
    risk_level LowCardinality(String),
    events SimpleAggregateFunction(sum, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, event_type, phase, server_id, tool_name, status, risk_level)
SETTINGS non_replicated_deduplication_window = 10000;

-- Calls' duration quantiles per hour, type, server and tool, apart from the counts:
-- merging quantile states costs per state, and on 10 M events the tools panel took
-- 163 ms merging one per hour, status and risk level (345,000 for 30 days).
CREATE TABLE IF NOT EXISTS durations_hourly
(
    hour DateTime('UTC'),
    event_type LowCardinality(String),
    server_id LowCardinality(String),
    tool_name LowCardinality(String),
    duration_us AggregateFunction(quantiles(0.5, 0.95, 0.99), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, event_type, server_id, tool_name)
SETTINGS non_replicated_deduplication_window = 10000;

-- The views are made again below and every aggregate is rebuilt from what is
-- stored (the last statement); re-running this migration after an interruption
-- starts again from empty tables.
DROP VIEW IF EXISTS events_first_mv;

DROP VIEW IF EXISTS calls_hourly_mv;

DROP VIEW IF EXISTS user_activity_daily_mv;

DROP VIEW IF EXISTS risk_daily_mv;

DROP VIEW IF EXISTS events_hourly_mv;

DROP VIEW IF EXISTS durations_hourly_mv;

TRUNCATE TABLE events_first;

TRUNCATE TABLE calls_hourly;

TRUNCATE TABLE user_activity_daily;

TRUNCATE TABLE risk_daily;

TRUNCATE TABLE events_hourly;

TRUNCATE TABLE durations_hourly;

-- Counts are sums of signs now.
ALTER TABLE calls_hourly MODIFY COLUMN calls SimpleAggregateFunction(sum, Int64), MODIFY COLUMN errors SimpleAggregateFunction(sum, Int64);

ALTER TABLE user_activity_daily MODIFY COLUMN events SimpleAggregateFunction(sum, Int64), MODIFY COLUMN errors SimpleAggregateFunction(sum, Int64), MODIFY COLUMN high_risk SimpleAggregateFunction(sum, Int64);

ALTER TABLE risk_daily MODIFY COLUMN events SimpleAggregateFunction(sum, Int64), MODIFY COLUMN risk_score_sum SimpleAggregateFunction(sum, Int64);

-- Daily counts per user gain what the dashboard's user figures need: calls, tool
-- calls and high-risk calls, and the highest risk score. By day, not hour: 2,000
-- users over 30 days are 60,000 rows instead of 1.4 M, and a window's part day
-- comes from events_first (readside/dashboard/queries.py).
ALTER TABLE user_activity_daily ADD COLUMN IF NOT EXISTS high_risk_calls SimpleAggregateFunction(sum, Int64);

ALTER TABLE user_activity_daily ADD COLUMN IF NOT EXISTS tool_calls SimpleAggregateFunction(sum, Int64);

ALTER TABLE user_activity_daily ADD COLUMN IF NOT EXISTS max_risk SimpleAggregateFunction(max, UInt8);

-- Opening one event by its id alone (an alert's evidence) without reading every id.
ALTER TABLE audit_events ADD INDEX IF NOT EXISTS event_idx event_id TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE audit_events MATERIALIZE INDEX event_idx;

CREATE MATERIALIZED VIEW events_first_mv TO events_first AS
SELECT event_id, event_time, user_id, version.1 AS sign, version.2 AS replaces,
       version.3 AS enriched_time,
       version.4 AS event_type,
       version.5 AS phase,
       version.6 AS tenant_id,
       version.7 AS session_id,
       version.8 AS server_id,
       version.9 AS tool_name,
       version.10 AS status,
       version.11 AS duration_us,
       version.12 AS risk_score,
       version.13 AS risk_level,
       version.14 AS risk_reasons,
       version.15 AS retention_days
FROM (
    SELECT new.event_id AS event_id, new.event_time AS event_time, new.user_id AS user_id,
           held.found AS found, held.version AS held_version,
           (new.enriched_time, new.event_type, new.phase, new.tenant_id, new.session_id, new.server_id, new.tool_name, new.status, new.duration_us, new.risk_score, new.risk_level, new.risk_reasons, new.retention_days) AS new_version
    FROM (SELECT * FROM audit_events ORDER BY enriched_time DESC LIMIT 1 BY event_time, event_id, user_id) AS new
    LEFT JOIN (
        SELECT event_time, event_id, user_id, 1 AS found, max(enriched_time) AS latest,
               argMax((enriched_time, event_type, phase, tenant_id, session_id, server_id, tool_name, status, duration_us, risk_score, risk_level, risk_reasons, retention_days), enriched_time) AS version
        FROM events_first
        WHERE sign = 1
          AND (event_time, event_id, user_id) IN
              (SELECT event_time, event_id, user_id FROM audit_events WHERE call_state = 'INCOMPLETE')
        GROUP BY event_time, event_id, user_id
    ) AS held
    ON new.event_time = held.event_time AND new.event_id = held.event_id AND new.user_id = held.user_id
    WHERE held.found = 0 OR held.latest < new.enriched_time
)
ARRAY JOIN if(found = 0, [tupleConcat((toInt8(1), false), new_version)],
              [tupleConcat((toInt8(-1), false), held_version),
               tupleConcat((toInt8(1), true), new_version)]) AS version;

CREATE MATERIALIZED VIEW calls_hourly_mv TO calls_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    server_id,
    tool_name,
    sum(sign) AS calls,
    sumIf(sign, status IN ('ERROR', 'DENIED', 'TIMEOUT', 'CANCELLED')) AS errors,
    quantilesStateIf(0.5, 0.95, 0.99)(duration_us, sign = 1 AND NOT replaces) AS duration_us
FROM events_first
WHERE phase = 'RESULT'
GROUP BY hour, server_id, tool_name;

CREATE MATERIALIZED VIEW user_activity_daily_mv TO user_activity_daily AS
SELECT
    toDate(event_time) AS day,
    user_id,
    tenant_id,
    sum(sign) AS events,
    sumIf(sign, status IN ('ERROR', 'DENIED', 'TIMEOUT', 'CANCELLED')) AS errors,
    sumIf(sign, risk_level IN ('HIGH', 'CRITICAL')) AS high_risk,
    uniqStateIf(toString(tool_name), sign = 1 AND NOT replaces) AS tools,
    uniqStateIf(session_id, sign = 1 AND NOT replaces) AS sessions,
    sumIf(sign, phase = 'RESULT' AND risk_level IN ('HIGH', 'CRITICAL')) AS high_risk_calls,
    sumIf(sign, event_type = 'TOOL_CALL' AND phase = 'RESULT') AS tool_calls,
    maxIf(risk_score, sign = 1) AS max_risk
FROM events_first
GROUP BY day, user_id, tenant_id;

CREATE MATERIALIZED VIEW risk_daily_mv TO risk_daily AS
SELECT
    toDate(event_time) AS day,
    server_id,
    risk_level,
    sum(sign) AS events,
    sum(sign * toInt64(risk_score)) AS risk_score_sum
FROM events_first
GROUP BY day, server_id, risk_level;

CREATE MATERIALIZED VIEW events_hourly_mv TO events_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    event_type, phase, server_id, tool_name, status, risk_level,
    sum(sign) AS events
FROM events_first
GROUP BY hour, event_type, phase, server_id, tool_name, status, risk_level;

CREATE MATERIALIZED VIEW durations_hourly_mv TO durations_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    event_type, server_id, tool_name,
    quantilesStateIf(0.5, 0.95, 0.99)(duration_us, sign = 1 AND NOT replaces) AS duration_us
FROM events_first
WHERE phase = 'RESULT'
GROUP BY hour, event_type, server_id, tool_name;

-- Every aggregate from what is stored, each event once as FINAL keeps it, through the views.
INSERT INTO events_first (event_id, event_time, sign, replaces, enriched_time, event_type, phase, user_id, tenant_id, session_id, server_id, tool_name, status, duration_us, risk_score, risk_level, risk_reasons, retention_days)
SELECT event_id, event_time, 1 AS sign, false AS replaces, enriched_time, event_type, phase, user_id, tenant_id, session_id, server_id, tool_name, status, duration_us, risk_score, risk_level, risk_reasons, retention_days
FROM audit_events FINAL;
