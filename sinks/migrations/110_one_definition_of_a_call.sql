-- One definition of a call and of a failure (sinks/tables.py: CALL, FAILURE).
-- calls_hourly counted every row that was not an ATTEMPT, so heartbeats and
-- one-off events (session start, listings, accesses) were calls; the view now
-- counts RESULT rows only. Hours aggregated before this migration keep the old
-- counts: rebuild them with INSERT INTO calls_hourly SELECT ... if needed.
DROP VIEW IF EXISTS calls_hourly_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS calls_hourly_mv TO calls_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    server_id,
    tool_name,
    count() AS calls,
    countIf(status IN ('ERROR', 'DENIED', 'TIMEOUT', 'CANCELLED')) AS errors,
    quantilesState(0.5, 0.95, 0.99)(duration_us) AS duration_us
FROM audit_events
WHERE phase = 'RESULT'
GROUP BY hour, server_id, tool_name;

DROP VIEW IF EXISTS user_activity_daily_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_activity_daily_mv TO user_activity_daily AS
SELECT
    toDate(event_time) AS day,
    user_id,
    tenant_id,
    count() AS events,
    countIf(status IN ('ERROR', 'DENIED', 'TIMEOUT', 'CANCELLED')) AS errors,
    countIf(risk_level IN ('HIGH', 'CRITICAL')) AS high_risk,
    uniqState(toString(tool_name)) AS tools,
    uniqState(session_id) AS sessions
FROM audit_events
GROUP BY day, user_id, tenant_id;
