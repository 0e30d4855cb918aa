-- The dashboard's last slow questions at 30 days over 10 M unmerged events
-- (docs/benchmarks.md): duration quantiles per tool.
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

-- One session's calls stay with audit_events' bloom filter on session_id (107 ms
-- on 10 M unmerged events): a projection of events_first by session took that to
-- 60 ms but added 34% to every insert of the sink (measured A/B, 6 alternated
-- inserts of 100,000 events; docs/benchmarks.md), for a lookup still not 20x faster.
