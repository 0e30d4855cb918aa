-- Aggregates maintained on insert. They count rows as inserted: a retried batch
-- is deduplicated here too (deduplicate_blocks_in_dependent_materialized_views
-- and a deduplication window on each target),
-- but a duplicate arriving in another batch counts twice until audit_events
-- merges; exact counts come from audit_events FINAL.

CREATE TABLE IF NOT EXISTS calls_hourly
(
    hour DateTime('UTC'),
    server_id LowCardinality(String),
    tool_name LowCardinality(String),
    calls SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    duration_us AggregateFunction(quantiles(0.5, 0.95, 0.99), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (server_id, tool_name, hour)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS calls_hourly_mv TO calls_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    server_id,
    tool_name,
    count() AS calls,
    countIf(status NOT IN ('SUCCESS', 'UNKNOWN', '')) AS errors,
    quantilesState(0.5, 0.95, 0.99)(duration_us) AS duration_us
FROM audit_events
WHERE phase != 'ATTEMPT'
GROUP BY hour, server_id, tool_name;

CREATE TABLE IF NOT EXISTS user_activity_daily
(
    day Date,
    user_id LowCardinality(String),
    tenant_id LowCardinality(String),
    events SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    high_risk SimpleAggregateFunction(sum, UInt64),
    tools AggregateFunction(uniq, String),
    sessions AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (user_id, day, tenant_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_activity_daily_mv TO user_activity_daily AS
SELECT
    toDate(event_time) AS day,
    user_id,
    tenant_id,
    count() AS events,
    countIf(status NOT IN ('SUCCESS', 'UNKNOWN', '')) AS errors,
    countIf(risk_level IN ('HIGH', 'CRITICAL')) AS high_risk,
    uniqState(toString(tool_name)) AS tools,
    uniqState(session_id) AS sessions
FROM audit_events
GROUP BY day, user_id, tenant_id;

CREATE TABLE IF NOT EXISTS risk_daily
(
    day Date,
    server_id LowCardinality(String),
    risk_level LowCardinality(String),
    events SimpleAggregateFunction(sum, UInt64),
    risk_score_sum SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (server_id, risk_level, day)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS risk_daily_mv TO risk_daily AS
SELECT
    toDate(event_time) AS day,
    server_id,
    risk_level,
    count() AS events,
    sum(toUInt64(risk_score)) AS risk_score_sum
FROM audit_events
GROUP BY day, server_id, risk_level;
