"""The EnrichedEvent -> ``audit_events`` mapping: the Avro fields ClickHouse reads, the columns.

Nested records are read by dotted path; a record behind a ``null`` union cannot
be, so it is read as a ``Nullable(Tuple)`` and taken apart in the SELECT. Nulls
become empty strings (``input_format_avro_null_as_default``): as clear to an
analyst and cheaper to store and filter. ``status`` is empty when the event has
no outcome, so a verifier can rebuild the hash chain's fields from a row.
"""

from __future__ import annotations

import dataclasses

from sinks.tables import DIGEST_COLUMNS, EVENT_VARYING, PERSONAL_COLUMNS, TableSpec

_S = "String"
# The row-hash formula the sink writes (sinks.tables.TableSpec.earlier_hashes, migration
# 150): 1 hashed session id, resource URI and prompt name as content, 2 as personal.
HASH_VERSION = 2
_TS = "DateTime64(6, 'UTC')"
_OUTCOME = (
    "Nullable(Tuple(status String, duration_us Int64, error_type Nullable(String),"
    " error_message Nullable(String), result_size Nullable(Int64)))"
)
_DELEGATION = (
    "Nullable(Tuple(agent_id Nullable(String), agent_name Nullable(String),"
    " delegator_pseudonym Nullable(String)))"
)
_ANNOTATIONS = (
    "Nullable(Tuple(read_only Nullable(Bool), destructive Nullable(Bool),"
    " idempotent Nullable(Bool), open_world Nullable(Bool)))"
)
_AI = (
    "Nullable(Tuple(model Nullable(String), reason Nullable(String), user_intent Nullable(String)))"
)
_LINEAGE = (
    "Nullable(Tuple(operation Nullable(String), sources Array(String),"
    " destinations Array(String), data_categories Array(String)))"
)
_HEARTBEAT = (
    "Nullable(Tuple(interval_s Int32, events_sent Int64, events_spooled Int64,"
    " events_dropped Int64, redactions Int64, audit_failures Int64, spool_bytes Int64,"
    " final Bool))"
)
_STRINGS = {
    "event": ("event_id", "event_type", "phase", "call_id"),
    "event.actor": (
        "user_pseudonym", "pseudonym_key_id", "client_id", "client_name", "client_version",
        "ip", "user_agent", "session_id", "auth_method", "tenant_id", "session_digest",
    ),
    "event.target": (
        "server_id", "server_version", "tool_name", "resource_uri", "prompt_name", "method",
        "tool_fingerprint", "classification", "resource_uri_digest", "prompt_name_digest",
    ),
    "event.payload": ("args_json", "args_digest", "result_json", "result_digest"),
    "event.context": ("request_id", "trace_id", "span_id", "protocol_version", "transport"),
    "event.context.producer": ("host", "library_version", "integration"),
    "event.compliance": ("policy_version",),
    "event.integrity": ("stream_id", "prev_hash", "hash", "key_id"),
    "": ("call_state", "attempt_event_id", "risk_level", "processor_version"),
}  # fmt: skip


def _strings() -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"{prefix}.{name}" if prefix else name, _S)
        for prefix, names in _STRINGS.items()
        for name in names
    )


ENRICHED_STRUCTURE: tuple[tuple[str, str], ...] = (
    *_strings(),
    ("event.event_time", _TS),
    ("event.actor.scopes", "Array(String)"),
    ("event.actor.delegation", _DELEGATION),
    ("event.target.arg_keys", "Array(String)"),
    ("event.target.annotations", _ANNOTATIONS),
    ("event.payload.truncated", "Bool"),
    ("event.payload.redactions", "Int32"),
    ("event.outcome", _OUTCOME),
    ("event.context.producer.pid", "Int32"),
    ("event.context.ai", _AI),
    ("event.lineage", _LINEAGE),
    ("event.heartbeat", _HEARTBEAT),
    ("event.compliance.fail_closed", "Bool"),
    ("event.attributes", "Map(String, String)"),
    ("event.integrity.seq", "Int64"),
    ("attempt_time", f"Nullable({_TS})"),
    ("risk_score", "Int32"),
    ("risk_reasons", "Array(String)"),
    ("compliance_tags", "Array(String)"),
    ("anomalies", "Array(Tuple(detector String, score Float64, detail String))"),
    ("retention_days", "Int32"),
    ("enriched_time", _TS),
)


def _nullable_tuple(path: str, element: str, default: str = "''") -> str:
    return f"ifNull(tupleElement(`{path}`, '{element}'), {default})"


# final lands in the same map as 0 or 1 (heartbeat['final']): no migration needed.
_HEARTBEAT_FIELDS = (
    "interval_s", "events_sent", "events_spooled", "events_dropped", "redactions",
    "audit_failures", "spool_bytes", "final",
)  # fmt: skip


def _heartbeat_map() -> str:
    keys = ", ".join(f"'{name}'" for name in _HEARTBEAT_FIELDS)
    values = ", ".join(
        f"toInt64(tupleElement(assumeNotNull(`event.heartbeat`), '{name}'))"
        for name in _HEARTBEAT_FIELDS
    )
    return f"if(isNull(`event.heartbeat`), map(), mapFromArrays([{keys}], [{values}]))"


ENRICHED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "toUUID(`event.event_id`)"),
    ("event_time", "`event.event_time`"),
    ("event_type", "`event.event_type`"),
    ("phase", "`event.phase`"),
    ("call_id", "`event.call_id`"),
    ("call_state", "`call_state`"),
    ("attempt_event_id", "`attempt_event_id`"),
    ("attempt_time", "`attempt_time`"),
    ("user_id", "`event.actor.user_pseudonym`"),
    ("pseudonym_key_id", "`event.actor.pseudonym_key_id`"),
    ("client_id", "`event.actor.client_id`"),
    ("client_name", "`event.actor.client_name`"),
    ("client_version", "`event.actor.client_version`"),
    ("ip", "`event.actor.ip`"),
    ("user_agent", "`event.actor.user_agent`"),
    ("session_id", "`event.actor.session_id`"),
    ("session_digest", "`event.actor.session_digest`"),
    ("auth_method", "`event.actor.auth_method`"),
    ("scopes", "`event.actor.scopes`"),
    ("tenant_id", "`event.actor.tenant_id`"),
    ("agent_id", _nullable_tuple("event.actor.delegation", "agent_id")),
    ("agent_name", _nullable_tuple("event.actor.delegation", "agent_name")),
    ("delegator_pseudonym", _nullable_tuple("event.actor.delegation", "delegator_pseudonym")),
    ("server_id", "`event.target.server_id`"),
    ("server_version", "`event.target.server_version`"),
    ("tool_name", "`event.target.tool_name`"),
    ("resource_uri", "`event.target.resource_uri`"),
    ("prompt_name", "`event.target.prompt_name`"),
    ("resource_uri_digest", "`event.target.resource_uri_digest`"),
    ("prompt_name_digest", "`event.target.prompt_name_digest`"),
    ("method", "`event.target.method`"),
    ("arg_keys", "`event.target.arg_keys`"),
    ("tool_read_only", "tupleElement(`event.target.annotations`, 'read_only')"),
    ("tool_destructive", "tupleElement(`event.target.annotations`, 'destructive')"),
    ("tool_idempotent", "tupleElement(`event.target.annotations`, 'idempotent')"),
    ("tool_open_world", "tupleElement(`event.target.annotations`, 'open_world')"),
    ("tool_fingerprint", "`event.target.tool_fingerprint`"),
    ("classification", "`event.target.classification`"),
    ("args", "`event.payload.args_json`"),
    ("args_digest", "`event.payload.args_digest`"),
    ("result", "`event.payload.result_json`"),
    ("result_digest", "`event.payload.result_digest`"),
    ("truncated", "`event.payload.truncated`"),
    ("redactions", "toUInt32(`event.payload.redactions`)"),
    # '' when the event has no outcome (an ATTEMPT), so the hash chain can be recomputed.
    ("status", _nullable_tuple("event.outcome", "status")),
    ("duration_us", f"toUInt64({_nullable_tuple('event.outcome', 'duration_us', '0')})"),
    ("error_type", _nullable_tuple("event.outcome", "error_type")),
    ("error_message", _nullable_tuple("event.outcome", "error_message")),
    ("result_size", "toNullable(toUInt64(tupleElement(`event.outcome`, 'result_size')))"),
    ("request_id", "`event.context.request_id`"),
    ("trace_id", "`event.context.trace_id`"),
    ("span_id", "`event.context.span_id`"),
    ("protocol_version", "`event.context.protocol_version`"),
    ("transport", "`event.context.transport`"),
    ("producer_host", "`event.context.producer.host`"),
    ("producer_pid", "toUInt32(`event.context.producer.pid`)"),
    ("producer_library_version", "`event.context.producer.library_version`"),
    ("producer_integration", "`event.context.producer.integration`"),
    ("ai_model", _nullable_tuple("event.context.ai", "model")),
    ("ai_reason", _nullable_tuple("event.context.ai", "reason")),
    ("ai_user_intent", _nullable_tuple("event.context.ai", "user_intent")),
    ("lineage_operation", _nullable_tuple("event.lineage", "operation")),
    ("lineage_sources", _nullable_tuple("event.lineage", "sources", "[]")),
    ("lineage_destinations", _nullable_tuple("event.lineage", "destinations", "[]")),
    ("data_categories", _nullable_tuple("event.lineage", "data_categories", "[]")),
    ("heartbeat", _heartbeat_map()),
    ("fail_closed", "`event.compliance.fail_closed`"),
    ("policy_version", "`event.compliance.policy_version`"),
    ("attributes", "`event.attributes`"),
    ("risk_score", "toUInt8(`risk_score`)"),
    ("risk_level", "`risk_level`"),
    ("risk_reasons", "`risk_reasons`"),
    ("compliance_tags", "`compliance_tags`"),
    ("anomalies", "`anomalies`"),
    ("retention_days", "toUInt16(`retention_days`)"),
    ("enriched_time", "`enriched_time`"),
    ("processor_version", "`processor_version`"),
    ("stream_id", "`event.integrity.stream_id`"),
    ("seq", "toUInt64(`event.integrity.seq`)"),
    ("prev_hash", "`event.integrity.prev_hash`"),
    ("hash", "`event.integrity.hash`"),
    ("origin_key_id", "`event.integrity.key_id`"),  # '' for events no origin key vouched for
    ("hash_version", f"toUInt8({HASH_VERSION})"),
)

_CURRENT = TableSpec(
    "EnrichedEvent",
    "audit_events",
    ENRICHED_STRUCTURE,
    ENRICHED_COLUMNS,
    "event_time",
    PERSONAL_COLUMNS,
    insert_table="audit_events_incoming",
    outside_hash=("enriched_time",),
    varying=EVENT_VARYING,
)
# How the sink mapped and hashed events before migration 150 (hash_version 1, the
# column's default for rows stored then): session id, resource URI and prompt name
# hashed as content (their events chained them in clear), no digest or version
# columns. Column order is kept: the hash is over the columns in this order.
_ADDED_IN_150 = {*DIGEST_COLUMNS.values(), "hash_version"}
HASHED_BEFORE_150 = dataclasses.replace(
    _CURRENT,
    columns=tuple(c for c in ENRICHED_COLUMNS if c[0] not in _ADDED_IN_150),
    personal={k: v for k, v in PERSONAL_COLUMNS.items() if k not in DIGEST_COLUMNS},
)
ENRICHED = dataclasses.replace(_CURRENT, earlier_hashes=((1, HASHED_BEFORE_150),))
