-- Every retention period the store has held events for, remembered after those
-- events expire. mcp-audit verify uses the shortest: a sequence gap older than it
-- may be retention at work (a stream mixes classifications with their own
-- periods), a younger one is an event that went missing.
CREATE TABLE IF NOT EXISTS retention_periods
(
    retention_days UInt16
)
ENGINE = ReplacingMergeTree
ORDER BY retention_days;

CREATE MATERIALIZED VIEW IF NOT EXISTS retention_periods_mv TO retention_periods AS
SELECT DISTINCT retention_days FROM audit_events;

-- Periods of events stored before this migration.
INSERT INTO retention_periods SELECT DISTINCT retention_days FROM audit_events;
