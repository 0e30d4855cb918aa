-- Legal holds reach events_first. Its TTL deleted rows past retention whether or not
-- a hold covered them, so a held subject's events vanished from the dashboard's
-- search, trail and counts while audit_events kept them: the investigation a hold
-- exists for lost its view. events_first now keeps legal_hold as audit_events does:
-- rows take the stored row's mark as they arrive (the view below), holds placed and
-- released mark it (readside/holds.py), and the TTL deletes only unheld rows.
ALTER TABLE events_first ADD COLUMN IF NOT EXISTS legal_hold Bool DEFAULT false;

-- Holds placed before this migration: the mark audit_events already carries.
ALTER TABLE events_first UPDATE legal_hold = true WHERE (event_id, user_id) IN (SELECT event_id, user_id FROM audit_events WHERE legal_hold);

ALTER TABLE events_first MODIFY TTL toDateTime(least(toDateTime64(event_time, 0, 'UTC') + toIntervalDay(retention_days), toDateTime64('2106-02-07 00:00:00', 0, 'UTC'))) DELETE WHERE NOT legal_hold;

-- Migration 170's view, carrying the stored row's legal_hold to both of a
-- replacement's rows (a hold covers an event's every version alike).
DROP VIEW IF EXISTS events_first_mv;

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
       version.15 AS retention_days,
       legal_hold
FROM (
    SELECT new.event_id AS event_id, new.event_time AS event_time, new.user_id AS user_id,
           new.legal_hold AS legal_hold,
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
