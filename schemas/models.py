"""Pydantic models mirroring the Avro records, for Python users of the contract.

The ``.avsc`` files are the source of truth; ``tests/schemas/test_models.py``
proves these models agree with them field by field. Hot paths build plain
dicts in Avro shape instead; these models are for code that wants validation.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.retention import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    def to_avro(self) -> dict[str, Any]:
        """A dict fastavro can write with this record's schema."""
        return self.model_dump(mode="python")

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Any:
        return cls.model_validate(record)


class EventType(StrEnum):
    UNKNOWN = "UNKNOWN"
    TOOL_CALL = "TOOL_CALL"
    RESOURCE_READ = "RESOURCE_READ"
    PROMPT_GET = "PROMPT_GET"
    SESSION_START = "SESSION_START"
    SESSION_END = "SESSION_END"
    AUTH_FAILURE = "AUTH_FAILURE"
    PERMISSION_CHANGE = "PERMISSION_CHANGE"
    CONFIG_CHANGE = "CONFIG_CHANGE"
    CONTEXT_OPERATION = "CONTEXT_OPERATION"
    TOOLS_LISTED = "TOOLS_LISTED"
    HEARTBEAT = "HEARTBEAT"
    AUDIT_ACCESS = "AUDIT_ACCESS"


class Phase(StrEnum):
    EVENT = "EVENT"
    ATTEMPT = "ATTEMPT"
    RESULT = "RESULT"


class Classification(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class Status(StrEnum):
    UNKNOWN = "UNKNOWN"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    DENIED = "DENIED"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"


class RiskLevel(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class CallState(StrEnum):
    SINGLE = "SINGLE"
    ATTEMPT = "ATTEMPT"
    COMPLETE = "COMPLETE"
    INCOMPLETE = "INCOMPLETE"


class Delegation(_Record):
    agent_id: str | None = None
    agent_name: str | None = None
    delegator_pseudonym: str | None = None


class Actor(_Record):
    user_pseudonym: str | None = None
    pseudonym_key_id: str | None = None
    client_id: str | None = None
    client_name: str | None = None
    client_version: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    session_id: str | None = None
    auth_method: str | None = None
    scopes: list[str] = Field(default_factory=list)
    tenant_id: str | None = None
    delegation: Delegation | None = None
    session_digest: str | None = None


class ToolAnnotations(_Record):
    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


class Target(_Record):
    server_id: str
    server_version: str | None = None
    tool_name: str | None = None
    resource_uri: str | None = None
    prompt_name: str | None = None
    method: str | None = None
    arg_keys: list[str] = Field(default_factory=list)
    annotations: ToolAnnotations | None = None
    tool_fingerprint: str | None = None
    classification: Classification = Classification.MEDIUM
    resource_uri_digest: str | None = None
    prompt_name_digest: str | None = None


class Payload(_Record):
    args_json: str | None = None
    args_digest: str | None = None
    result_json: str | None = None
    result_digest: str | None = None
    truncated: bool = False
    redactions: int = 0


class Outcome(_Record):
    status: Status = Status.UNKNOWN
    duration_us: int = 0
    error_type: str | None = None
    error_message: str | None = None
    result_size: int | None = None


class ProducerInfo(_Record):
    host: str = ""
    pid: int = 0
    library_version: str = ""
    integration: str = ""


class AiContext(_Record):
    model: str | None = None
    reason: str | None = None
    user_intent: str | None = None


class RequestContext(_Record):
    request_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    protocol_version: str | None = None
    transport: str | None = None
    producer: ProducerInfo
    ai: AiContext | None = None


class Lineage(_Record):
    operation: str | None = None
    sources: list[str] = Field(default_factory=list)
    destinations: list[str] = Field(default_factory=list)
    data_categories: list[str] = Field(default_factory=list)


class Heartbeat(_Record):
    interval_s: int
    events_sent: int = 0
    events_spooled: int = 0
    events_dropped: int = 0
    redactions: int = 0
    audit_failures: int = 0
    spool_bytes: int = 0
    final: bool = False


class ComplianceFields(_Record):
    retention_days: int = Field(365, ge=RETENTION_DAYS_MIN, le=RETENTION_DAYS_MAX)
    fail_closed: bool = False
    policy_version: str | None = None
    value_digest_key_id: str | None = None


class Integrity(_Record):
    stream_id: str
    seq: int
    prev_hash: str
    hash: str
    key_id: str | None = None
    mac: str | None = None


class AuditEvent(_Record):
    event_id: str
    event_time: AwareDatetime
    event_type: EventType
    phase: Phase = Phase.EVENT
    call_id: str = ""
    actor: Actor
    target: Target
    payload: Payload
    outcome: Outcome | None = None
    context: RequestContext
    lineage: Lineage | None = None
    heartbeat: Heartbeat | None = None
    compliance: ComplianceFields
    attributes: dict[str, str] = Field(default_factory=dict)
    integrity: Integrity


class Anomaly(_Record):
    detector: str
    score: float
    detail: str = ""


class EnrichedEvent(_Record):
    event: AuditEvent
    call_state: CallState = CallState.SINGLE
    attempt_event_id: str | None = None
    attempt_time: AwareDatetime | None = None
    risk_score: int = 0
    risk_level: RiskLevel = RiskLevel.LOW
    risk_reasons: list[str] = Field(default_factory=list)
    compliance_tags: list[str] = Field(default_factory=list)
    anomalies: list[Anomaly] = Field(default_factory=list)
    retention_days: int = Field(365, ge=RETENTION_DAYS_MIN, le=RETENTION_DAYS_MAX)
    enriched_time: AwareDatetime
    processor_version: str = ""


# What the processors put in the versions that follow a stored one, which verify
# (sinks.verify_sealed) holds a later version to: an expired attempt's INCOMPLETE
# version names this detector as its one anomaly and this risk reason; a folded
# alert's final version carries at most this many evidence ids (more only count).
INCOMPLETE_DETECTOR = "incomplete_call"
INCOMPLETE_REASON = "call:incomplete"
ALERT_MAX_EVIDENCE = 20


class Alert(_Record):
    alert_id: str
    alert_time: AwareDatetime
    severity: Severity
    detector: str
    summary: str
    user_pseudonym: str | None = None
    server_id: str | None = None
    tool_name: str | None = None
    tenant_id: str | None = None
    count: int = 1
    window_start: AwareDatetime
    window_end: AwareDatetime
    evidence_event_ids: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)


MODEL_FOR_RECORD: dict[str, type[_Record]] = {
    "AuditEvent": AuditEvent,
    "EnrichedEvent": EnrichedEvent,
    "Alert": Alert,
}
