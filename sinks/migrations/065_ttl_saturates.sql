-- The TTL adds retention_days to a 32-bit DateTime, which ends on 2106-02-07 and
-- wraps silently past it: an event of 2026-12 kept 30,000 days expired in 1972,
-- so the next merge deleted it at once (checked on chDB 26.9). The sum is now made
-- in DateTime64 (to 2299) and capped at the last whole day DateTime can hold, so a
-- period longer than DateTime reaches keeps the row instead.
-- retention_days stays UInt16: every writer keeps it to 1..36500 days
-- (schemas/retention.py), and as a partition and sorting key column it cannot be
-- widened in place. MODIFY TTL recomputes the TTL of existing parts.
ALTER TABLE audit_events MODIFY TTL toDateTime(least(toDateTime64(event_time, 0, 'UTC') + toIntervalDay(retention_days), toDateTime64('2106-02-07 00:00:00', 0, 'UTC'))) DELETE WHERE NOT legal_hold;

ALTER TABLE audit_alerts MODIFY TTL toDateTime(least(toDateTime64(alert_time, 0, 'UTC') + toIntervalDay(retention_days), toDateTime64('2106-02-07 00:00:00', 0, 'UTC'))) DELETE WHERE NOT legal_hold;
