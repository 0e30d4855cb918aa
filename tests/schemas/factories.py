"""Realistic records in Avro shape, for tests of every part."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from schemas.integrity import chain_hash


def audit_event(seq: int = 1, prev_hash: str = "", **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_time": datetime(2026, 11, 22, 12, 30, 15, 123456, tzinfo=UTC),
        "event_type": "TOOL_CALL",
        "phase": "RESULT",
        "call_id": "call-1",
        "actor": {
            "user_pseudonym": "a" * 64,
            "pseudonym_key_id": "k1",
            "client_id": "claude-desktop",
            "client_name": "Claude",
            "client_version": "1.2",
            "ip": "127.0.0.1",
            "user_agent": None,
            "session_id": "s-1",
            "auth_method": "oauth",
            "scopes": ["files:read"],
            "tenant_id": "acme",
            "delegation": {"agent_id": "agent-7", "agent_name": None, "delegator_pseudonym": None},
        },
        "target": {
            "server_id": "files",
            "server_version": "1.0.0",
            "tool_name": "read_file",
            "resource_uri": None,
            "prompt_name": None,
            "method": "tools/call",
            "arg_keys": ["path"],
            "annotations": {
                "read_only": True,
                "destructive": False,
                "idempotent": True,
                "open_world": False,
            },
            "tool_fingerprint": "f" * 64,
            "classification": "HIGH",
        },
        "payload": {
            "args_json": None,
            "args_digest": "d" * 64,
            "result_json": None,
            "result_digest": None,
            "truncated": False,
            "redactions": 0,
        },
        "outcome": {
            "status": "SUCCESS",
            "duration_us": 1234,
            "error_type": None,
            "error_message": None,
            "result_size": 42,
        },
        "context": {
            "request_id": "7",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": None,
            "protocol_version": "2025-11-25",
            "transport": "stdio",
            "producer": {"host": "h", "pid": 1, "library_version": "0.1.0", "integration": "api"},
            "ai": None,
        },
        "lineage": None,
        "heartbeat": None,
        "compliance": {
            "retention_days": 2190,
            "fail_closed": False,
            "policy_version": None,
            "value_digest_key_id": "d1",
        },
        "attributes": {},
        "integrity": {
            "stream_id": "stream-1",
            "seq": seq,
            "prev_hash": prev_hash,
            "hash": "",
            "key_id": None,
            "mac": None,
        },
    }
    event.update(overrides)
    event["integrity"]["hash"] = chain_hash(prev_hash, event)
    return event


def enriched_event(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event": audit_event(),
        "call_state": "COMPLETE",
        "attempt_event_id": str(uuid.uuid4()),
        "attempt_time": datetime(2026, 11, 22, 12, 30, 15, 100000, tzinfo=UTC),
        "risk_score": 40,
        "risk_level": "MEDIUM",
        "risk_reasons": ["classification:HIGH"],
        "compliance_tags": ["HIPAA"],
        "anomalies": [{"detector": "first_seen_tool", "score": 1.0, "detail": "read_file"}],
        "retention_days": 2190,
        "enriched_time": datetime(2026, 11, 22, 12, 30, 16, tzinfo=UTC),
        "processor_version": "0.1.0",
    }
    record.update(overrides)
    return record


def alert(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "alert_id": str(uuid.uuid4()),
        "alert_time": datetime(2026, 11, 22, 12, 31, tzinfo=UTC),
        "severity": "HIGH",
        "detector": "rate_spike",
        "summary": "user aaaa made 40x their usual calls per minute",
        "user_pseudonym": "a" * 64,
        "server_id": "files",
        "tool_name": "read_file",
        "tenant_id": "acme",
        "count": 3,
        "window_start": datetime(2026, 11, 22, 12, 30, tzinfo=UTC),
        "window_end": datetime(2026, 11, 22, 12, 31, tzinfo=UTC),
        "evidence_event_ids": [str(uuid.uuid4())],
        "attributes": {"z_score": "9.1"},
    }
    record.update(overrides)
    return record
