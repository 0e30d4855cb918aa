-- The sealed log seals what a reader relies on, not only the chain (issue 14 item 2).
-- Leaves of version 2 (schemas/digest.py Leaf) also hold the row's content_hash
-- (migration 120: enrichment, values as stored, personal_hash) and say whose it is:
-- an event's, or an alert's (event_id then holds the alert id and seq its count).
-- Each stored version of a row is a leaf of its own: the processors' INCOMPLETE
-- version of a sealed attempt, a folded alert stored again with its final count.
-- Leaves appended before keep version 1 and their encoding, so old heads still check.
ALTER TABLE audit_tree_leaves
    ADD COLUMN IF NOT EXISTS leaf_version UInt8 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS kind LowCardinality(String) DEFAULT 'event',
    ADD COLUMN IF NOT EXISTS content_hash String DEFAULT '' CODEC(ZSTD(1));
