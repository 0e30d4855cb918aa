-- The dashboard's last slow questions at 30 days over 10 M unmerged events
-- (docs/benchmarks.md): duration quantiles per tool, and one session's calls.
--
-- Duration quantiles per day, in a DDSketch (relative accuracy 0.01): each
-- percentile it gives is within 1% of the true one. durations_hourly held
-- ClickHouse's quantile states, reservoir samples of up to 8,192 values: a merge
-- costs per value kept, so 30 days cost as much as reading every duration (900 ms
-- for 10 M durations in 21,600 hourly states), and above 8,192 values the answer
-- was a random sample's (7% off the true p95 in that trial). A DDSketch state
-- holds counts per logarithmic bucket, so a day of a tool is as small as an hour;
-- hourly DDSketch states are dense arrays, dearer to merge than the samples, so
-- the grain is a day: 30 days merged in 12 ms in that trial. The part of a
-- window's first day is sketched from events_first (readside/dashboard/queries.py).
-- As before, a state cannot take a value back: it takes each event's first
-- version (a duration is the producer's, the same in every version).
CREATE TABLE IF NOT EXISTS durations_daily
(
    day Date,
    event_type LowCardinality(String),
    server_id LowCardinality(String),
    tool_name LowCardinality(String),
    duration_us AggregateFunction(quantilesDD(0.01, 0.5, 0.95, 0.99), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, event_type, server_id, tool_name)
SETTINGS non_replicated_deduplication_window = 10000;

DROP VIEW IF EXISTS durations_daily_mv;

TRUNCATE TABLE durations_daily;

CREATE MATERIALIZED VIEW durations_daily_mv TO durations_daily AS
SELECT
    toDate(event_time) AS day,
    event_type, server_id, tool_name,
    quantilesDDState(0.01, 0.5, 0.95, 0.99)(duration_us) AS duration_us
FROM events_first
WHERE phase = 'RESULT' AND sign = 1 AND NOT replaces
GROUP BY day, event_type, server_id, tool_name;

INSERT INTO durations_daily
SELECT
    toDate(event_time) AS day,
    event_type, server_id, tool_name,
    quantilesDDState(0.01, 0.5, 0.95, 0.99)(duration_us) AS duration_us
FROM events_first
WHERE phase = 'RESULT' AND sign = 1 AND NOT replaces
GROUP BY day, event_type, server_id, tool_name;

-- Nothing reads the hourly samples now; their view cost every insert.
DROP VIEW IF EXISTS durations_hourly_mv;

DROP TABLE IF EXISTS durations_hourly;

-- One session's calls: a projection of events_first ordered by session, so that a
-- session's few events are read from a granule of each part, not found through
-- audit_events' bloom filter over every part (259 ms on 10 M unmerged events, the
-- same as FINAL). Narrow, the columns a session's listing reads, as the view by
-- user is dear to write (a third of events_first's insert time, docs/benchmarks.md).
-- Erasure's update of session_id rebuilds it with the part.
ALTER TABLE events_first ADD PROJECTION IF NOT EXISTS by_session (SELECT session_id, event_time, event_id, user_id, enriched_time, sign, event_type, server_id, tool_name, status, duration_us, risk_level ORDER BY session_id, event_time, event_id, enriched_time);

ALTER TABLE events_first MATERIALIZE PROJECTION by_session;
