"""Hostile MCP request params for the no-unaudited-call fuzz tests, and a spy on what is sent.

Every JSON path the producers read is drawn either plausible or of a wrong type:
params itself, ``name``/``uri``, ``arguments``, ``clientInfo`` (and its ``name`` and
``version``), ``protocolVersion``, ``_meta`` with its client info, protocol version,
``traceparent`` and AI keys. Wrong types are any JSON value, including huge strings
and numbers past 64 bits, as a client can send them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st

from producers.auditor import Auditor
from producers.integrations.mcp_meta import CLIENT_INFO_KEY, PROTOCOL_VERSION_KEY
from schemas.wire import Deserializer

HUGE = "n" * 1_200_000  # past the broker's default message size once in an identifier
MAX_MESSAGE = 1_000_000  # the Kafka client's and broker's default message size limit

scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(["", " ", "\x00", "caf\u00e9", "\u202e", HUGE])
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def either(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The plausible value or one of any JSON type."""
    return plausible | json_values


client_info = either(
    st.fixed_dictionaries(
        {}, optional={"name": either(st.just("claude")), "version": either(st.just("1.0"))}
    )
)
traceparent = st.sampled_from(
    [f"00-{'a' * 32}-{'b' * 16}-01", "00-short-x-01", "-" * 3, f"00-{'z' * 32}-{'y' * 16}-01"]
)
ai = st.fixed_dictionaries(
    {}, optional={"model": json_values, "reason": json_values, "userIntent": json_values}
)
meta = either(
    st.fixed_dictionaries(
        {},
        optional={
            CLIENT_INFO_KEY: client_info,
            PROTOCOL_VERSION_KEY: either(st.just("2026-07-28")),
            "traceparent": either(traceparent),
            "ai": either(ai),
            "model": json_values,
            "reason": json_values,
        },
    )
)


def params(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Params of a tools/call, resources/read, prompts/get or initialize, hostile anywhere."""
    return st.fixed_dictionaries(
        {},
        optional={
            "name": either(st.sampled_from(names)),
            "uri": either(st.just("notes://intro")),
            "arguments": either(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
            "_meta": meta,
            "clientInfo": client_info,
            "protocolVersion": either(st.just("2025-11-25")),
        },
    )


class Sent:
    """The events the auditor hands its real publisher, decoded: a spy, the events still go.

    Reading the bytes at the publisher is reading what Kafka gets, per call, without
    waiting on a consumer for each of hundreds of examples.
    """

    def __init__(self, auditor: Auditor, monkeypatch: pytest.MonkeyPatch) -> None:
        self._values: list[bytes] = []
        self._decode = Deserializer("AuditEvent")
        publish: Callable[[bytes | None, bytes], None] = auditor.publisher.publish

        def spy(key: bytes | None, value: bytes) -> None:
            self._values.append(value)
            publish(key, value)

        monkeypatch.setattr(auditor.publisher, "publish", spy)

    def take(self) -> list[dict[str, Any]]:
        """Events sent since the last take, heartbeats left out."""
        values, self._values = self._values, []
        assert all(len(v) < MAX_MESSAGE for v in values), "an event Kafka cannot take"
        events = [self._decode(v) for v in values]
        return [e for e in events if e["event_type"] != "HEARTBEAT"]


def calls(events: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """call id -> phase -> event, for ATTEMPT and RESULT events; asserts no phase twice."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for event in events:
        if event["phase"] in ("ATTEMPT", "RESULT"):
            phases = found.setdefault(event["call_id"], {})
            assert event["phase"] not in phases, f"two {event['phase']} events for one call"
            phases[event["phase"]] = event
    return found


def assert_each_call_audited(events: list[dict[str, Any]], expected: int) -> None:
    """``expected`` calls, each with its ATTEMPT and its RESULT: none unaudited."""
    found = calls(events)
    assert len(found) == expected, f"{expected} calls, {len(found)} audited: {events}"
    for phases in found.values():
        assert set(phases) == {"ATTEMPT", "RESULT"}, f"a call without both phases: {phases}"
