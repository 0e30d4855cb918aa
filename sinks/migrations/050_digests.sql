-- Signed digests: per producer stream and period, the hash of that period's event
-- hashes and of the previous digest, signed with Ed25519 (see schemas/digest.py).
-- Auditors check them with the published public key; mcp-audit verify does too.
CREATE TABLE IF NOT EXISTS audit_digests
(
    stream_id String,
    period_start DateTime64(6, 'UTC'),
    first_seq UInt64,
    last_seq UInt64,
    event_count UInt64,
    events_hash String,
    prev_digest_hash String,
    digest_hash String,
    key_id String,
    signature String,
    sealed_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(sealed_at)
ORDER BY (stream_id, period_start);
