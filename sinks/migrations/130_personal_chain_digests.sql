-- The hash chain covers keyed digests of the personal identifiers it used to
-- cover in clear (schemas/integrity.py DIGESTED): session id, resource URI and
-- prompt name. Events carry the digests (AuditEvent actor.session_digest,
-- target.resource_uri_digest, target.prompt_name_digest); these columns keep
-- them, erasure never clears them, and verify chains over them, so erasure can
-- clear session_id, resource_uri and prompt_name (sinks/tables.py
-- PERSONAL_COLUMNS). '' in a row stored from an older event: its chain covers
-- the clear values, which erasure then keeps.
ALTER TABLE audit_events
    ADD COLUMN IF NOT EXISTS session_digest String CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS resource_uri_digest String CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS prompt_name_digest String CODEC(ZSTD(1));

ALTER TABLE audit_events_incoming
    ADD COLUMN IF NOT EXISTS session_digest String,
    ADD COLUMN IF NOT EXISTS resource_uri_digest String,
    ADD COLUMN IF NOT EXISTS prompt_name_digest String;

-- Re-created so its SELECT * names the new columns (migration 120 says why).
DROP VIEW IF EXISTS audit_events_first_mv;

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
