-- The dashboard's investigation views (readside/dashboard/investigate.py) find rows by
-- values outside audit_events' sorting key (user_id, event_time, event_id): skip
-- indexes let them read a few granules instead of every one.
-- - a stream's neighbours of an event (seq - 1 and seq + 1: does its chain link?);
--   one hash of both columns, so the index answers the pair, not either alone;
-- - a search by trace id or by request id (session and call ids: migration 001).
ALTER TABLE audit_events ADD INDEX IF NOT EXISTS stream_seq_idx cityHash64(stream_id, seq) TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE audit_events MATERIALIZE INDEX stream_seq_idx;

ALTER TABLE audit_events ADD INDEX IF NOT EXISTS trace_idx trace_id TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE audit_events MATERIALIZE INDEX trace_idx;

ALTER TABLE audit_events ADD INDEX IF NOT EXISTS request_idx request_id TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE audit_events MATERIALIZE INDEX request_idx;

-- An event's sealed leaf, by its id (the log is sorted by leaf index).
ALTER TABLE audit_tree_leaves ADD INDEX IF NOT EXISTS leaf_event_idx event_id TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE audit_tree_leaves MATERIALIZE INDEX leaf_event_idx;
