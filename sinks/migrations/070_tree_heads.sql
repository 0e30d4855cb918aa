-- The sealed log (schemas/digest.py, schemas/merkle.py): one append-only Merkle tree
-- over every stream's events, and per period one signed head of it.
-- Leaves are kept when retention deletes their events: they hold identifiers,
-- hashes and times only, and they are how verify knows a gap has expired.
-- The version column lets an append interrupted before the sealer saved its own
-- state be written again at the same indices.
CREATE TABLE IF NOT EXISTS audit_tree_leaves
(
    leaf_index UInt64,
    event_id UUID,
    stream_id String,
    seq UInt64,
    hash String,
    event_time DateTime64(6, 'UTC'),
    retention_days UInt16,
    appended_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(appended_at)
ORDER BY leaf_index;

CREATE TABLE IF NOT EXISTS audit_tree_heads
(
    period_start DateTime64(6, 'UTC'),
    period_s UInt32,
    tree_size UInt64,
    root_hash String,
    prev_head_hash String,
    sealed_at DateTime64(6, 'UTC'),
    key_id String,
    head_hash String,
    signature String
)
ENGINE = ReplacingMergeTree(sealed_at)
ORDER BY period_start;
