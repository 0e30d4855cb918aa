-- The audit store: one row per enriched event, one per alert, and legal holds.
-- Statements are idempotent (IF NOT EXISTS): a migration interrupted half way
-- re-runs cleanly. Each statement ends with a semicolon at the end of a line.

-- Deduplicating: a retried batch is dropped by its insert token; a duplicate
-- that slips past (processor replay, restarted sink with different batch
-- boundaries) shares event_id and every sorting-key column, so FINAL and merges
-- keep one row. The latest enriched_time wins (an ATTEMPT becomes INCOMPLETE).
-- ORDER BY user_id first: a user's trail and a session (bloom filter) read a few
-- granules; the aggregate queries scan a handful of narrow columns either way.
-- PARTITION BY (retention_days, week): every row of a part expires in the same
-- week, so TTL drops or rewrites whole parts instead of scattering deletes.
-- retention_days ends the sorting key (it adds nothing to it) so that every
-- partition-key column is in the key: ClickHouse then knows duplicates never
-- cross partitions and FINAL merges within partitions only (measured on 2M
-- rows: top users by high-risk calls 586 ms -> 43 ms).
CREATE TABLE IF NOT EXISTS audit_events
(
    event_id UUID,
    event_time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    event_type LowCardinality(String),
    phase LowCardinality(String),
    call_id String CODEC(ZSTD(1)),
    call_state LowCardinality(String),
    attempt_event_id String CODEC(ZSTD(1)),
    attempt_time Nullable(DateTime64(6, 'UTC')) CODEC(ZSTD(1)),
    user_id LowCardinality(String),
    pseudonym_key_id LowCardinality(String),
    client_id LowCardinality(String),
    client_name LowCardinality(String),
    client_version LowCardinality(String),
    ip String CODEC(ZSTD(1)),
    user_agent LowCardinality(String),
    session_id String CODEC(ZSTD(1)),
    auth_method LowCardinality(String),
    scopes Array(LowCardinality(String)),
    tenant_id LowCardinality(String),
    agent_id LowCardinality(String),
    agent_name LowCardinality(String),
    delegator_pseudonym LowCardinality(String),
    server_id LowCardinality(String),
    server_version LowCardinality(String),
    tool_name LowCardinality(String),
    resource_uri String CODEC(ZSTD(1)),
    prompt_name LowCardinality(String),
    method LowCardinality(String),
    arg_keys Array(LowCardinality(String)),
    tool_read_only Nullable(Bool),
    tool_destructive Nullable(Bool),
    tool_idempotent Nullable(Bool),
    tool_open_world Nullable(Bool),
    tool_fingerprint LowCardinality(String),
    classification LowCardinality(String),
    args String CODEC(ZSTD(3)),
    args_digest String CODEC(ZSTD(1)),
    result String CODEC(ZSTD(3)),
    result_digest String CODEC(ZSTD(1)),
    truncated Bool,
    redactions UInt32 CODEC(T64, ZSTD(1)),
    status LowCardinality(String),
    duration_us UInt64 CODEC(T64, ZSTD(1)),
    duration_ms Float64 ALIAS duration_us / 1000,
    error_type LowCardinality(String),
    error_message String CODEC(ZSTD(3)),
    result_size Nullable(UInt64) CODEC(T64, ZSTD(1)),
    request_id String CODEC(ZSTD(1)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    protocol_version LowCardinality(String),
    transport LowCardinality(String),
    producer_host LowCardinality(String),
    producer_pid UInt32 CODEC(T64, ZSTD(1)),
    producer_library_version LowCardinality(String),
    producer_integration LowCardinality(String),
    ai_model LowCardinality(String),
    ai_reason String CODEC(ZSTD(3)),
    ai_user_intent String CODEC(ZSTD(3)),
    lineage_operation LowCardinality(String),
    lineage_sources Array(String) CODEC(ZSTD(1)),
    lineage_destinations Array(String) CODEC(ZSTD(1)),
    data_categories Array(LowCardinality(String)),
    heartbeat Map(LowCardinality(String), Int64),
    fail_closed Bool,
    policy_version LowCardinality(String),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    risk_score UInt8,
    risk_level LowCardinality(String),
    risk_reasons Array(LowCardinality(String)),
    compliance_tags Array(LowCardinality(String)),
    anomalies Array(Tuple(detector LowCardinality(String), score Float64, detail String)),
    retention_days UInt16,
    enriched_time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    processor_version LowCardinality(String),
    stream_id LowCardinality(String),
    seq UInt64 CODEC(Delta, ZSTD(1)),
    prev_hash String CODEC(ZSTD(1)),
    hash String CODEC(ZSTD(1)),
    legal_hold Bool DEFAULT false,
    INDEX session_idx session_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX call_idx call_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(enriched_time)
PARTITION BY (retention_days, toMonday(event_time))
ORDER BY (user_id, event_time, event_id, retention_days)
TTL toDateTime(event_time) + toIntervalDay(retention_days) DELETE WHERE NOT legal_hold
SETTINGS non_replicated_deduplication_window = 10000, merge_with_ttl_timeout = 3600;

-- Alerts are few and kept longer than events (retention set by the sink).
CREATE TABLE IF NOT EXISTS audit_alerts
(
    alert_id UUID,
    alert_time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    severity LowCardinality(String),
    detector LowCardinality(String),
    summary String CODEC(ZSTD(3)),
    user_id LowCardinality(String),
    server_id LowCardinality(String),
    tool_name LowCardinality(String),
    tenant_id LowCardinality(String),
    count UInt32,
    window_start DateTime64(6, 'UTC'),
    window_end DateTime64(6, 'UTC'),
    evidence_event_ids Array(String) CODEC(ZSTD(1)),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    retention_days UInt16,
    legal_hold Bool DEFAULT false
)
ENGINE = ReplacingMergeTree
PARTITION BY (retention_days, toStartOfMonth(alert_time))
ORDER BY (alert_time, alert_id)
TTL toDateTime(alert_time) + toIntervalDay(retention_days) DELETE WHERE NOT legal_hold
SETTINGS non_replicated_deduplication_window = 10000;

-- Legal holds, set and released by command. The latest version of a hold wins.
CREATE TABLE IF NOT EXISTS legal_holds
(
    hold_id String,
    kind LowCardinality(String),
    value String,
    time_from Nullable(DateTime64(6, 'UTC')),
    time_to Nullable(DateTime64(6, 'UTC')),
    reason String,
    created_by String,
    active Bool,
    changed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY hold_id;

-- Subjects erased (GDPR Art. 17): rows arriving later for them are cleared too.
CREATE TABLE IF NOT EXISTS erased_subjects
(
    user_id String,
    erased_at DateTime64(6, 'UTC') DEFAULT now64(6),
    erased_by String
)
ENGINE = ReplacingMergeTree(erased_at)
ORDER BY user_id;
