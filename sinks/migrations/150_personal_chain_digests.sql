-- The hash chain covers keyed digests of the personal identifiers it used to
-- cover in clear (schemas/integrity.py DIGESTED): session id, resource URI and
-- prompt name. Events carry the digests (AuditEvent actor.session_digest,
-- target.resource_uri_digest, target.prompt_name_digest); these columns keep
-- them, erasure never clears them, and verify chains over them, so erasure can
-- clear session_id, resource_uri and prompt_name (sinks/tables.py
-- PERSONAL_COLUMNS). '' in a row stored from an older event: its chain covers
-- the clear values, which erasure then keeps.
--
-- The three move from content_hash into personal_hash, so the row hashes change
-- formula. hash_version says which formula a row was hashed with: rows stored
-- before this migration read the default 1 (sinks/enriched.py HASHED_BEFORE_150),
-- the sink writes the current version in every row it inserts, and the row check
-- recomputes each row by its own version (sinks/row_check.py). Changing a row's
-- version makes it checked by a formula its content_hash was not made with.
ALTER TABLE audit_events
    ADD COLUMN IF NOT EXISTS session_digest String CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS resource_uri_digest String CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS prompt_name_digest String CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS hash_version UInt8 DEFAULT 1;

ALTER TABLE audit_events_incoming
    ADD COLUMN IF NOT EXISTS session_digest String,
    ADD COLUMN IF NOT EXISTS resource_uri_digest String,
    ADD COLUMN IF NOT EXISTS prompt_name_digest String,
    ADD COLUMN IF NOT EXISTS hash_version UInt8 DEFAULT 1;

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

-- A copy of an event stored before this migration arrives hashed with the new
-- formula, so its content_hash differs from the stored one's even when nothing
-- else does. Across versions the copy is compared on what both rows hold alike:
-- the chain hash and the enrichment the conflict record names. Within a version,
-- on the whole content_hash as before (migration 120).
DROP VIEW IF EXISTS audit_conflicts_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS audit_conflicts_mv TO audit_conflicts AS
SELECT
    n.event_id AS event_id, n.user_id AS user_id, n.event_time AS event_time,
    n.stream_id AS stream_id, n.seq AS seq,
    o.content_hash AS kept_hash, n.content_hash AS refused_hash,
    o.call_state AS kept_call_state, n.call_state AS refused_call_state,
    o.risk_level AS kept_risk_level, n.risk_level AS refused_risk_level,
    n.enriched_time AS refused_enriched_time, now64(6) AS detected_at
FROM audit_events_incoming AS n
INNER JOIN (
    SELECT user_id, event_time, event_id, content_hash, call_state, risk_level,
        risk_score, hash, hash_version
    FROM audit_events
    WHERE (user_id, event_time, event_id) IN
        (SELECT user_id, event_time, event_id FROM audit_events_incoming)
) AS o ON n.user_id = o.user_id AND n.event_time = o.event_time AND n.event_id = o.event_id
WHERE if(n.hash_version = o.hash_version, n.content_hash != o.content_hash,
        n.hash != o.hash OR n.call_state != o.call_state OR n.risk_level != o.risk_level
        OR n.risk_score != o.risk_score)
    AND NOT (n.call_state = 'INCOMPLETE' AND o.call_state != 'INCOMPLETE');
