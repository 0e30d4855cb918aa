"""A projection decodes the fields it names exactly as the full codec does, and accepts
exactly the bodies the full codec accepts (so a reader may forward what it accepted)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import registry
from schemas.errors import DeserializationError, SchemaError
from schemas.projection import Projection, Repeating, projection_decoder
from schemas.wire import SINGLE_OBJECT_MAGIC, Deserializer, SingleObjectSerializer
from tests.schemas.factories import audit_event
from tests.schemas.strategies import for_schema

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AUDIT = registry.current("AuditEvent")
NESTED: Projection = {
    "event_id": True,
    "event_time": True,
    "actor": {"scopes": True, "delegation": {"agent_id": True}},
    "target": {"annotations": True, "classification": True},
    "heartbeat": True,
    "integrity": {"seq": True},
}


def _encoded(record: dict[str, Any]) -> bytes:
    parts: list[bytes] = []
    AUDIT.codec[1](record, parts.append)
    return b"".join(parts)


def _restricted(full: Any, projection: Projection | bool) -> Any:
    """What a projection should yield: ``full`` with only the named fields, nested."""
    if projection is True or full is None:
        return full
    assert isinstance(projection, dict)
    return {name: _restricted(full[name], inner) for name, inner in projection.items()}


def _assert_projects_as_the_full_decode(
    project: Any, projection: Projection, record: dict[str, Any]
) -> None:
    body = _encoded(record)
    full, end = AUDIT.codec_micros[0](body, 0)
    assert project(body, 0) == (_restricted(full, projection), end)


def _outcome(decode: Any, body: bytes) -> tuple[str, int]:
    try:
        return "ok", decode(body, 0)[1]
    except Exception as exc:  # the kind of failure is what is compared
        return type(exc).__name__, -1


REPEATING: Projection = {
    **NESTED,
    "actor": Repeating({"scopes": True, "delegation": {"agent_id": True}}),
    "target": Repeating({"annotations": True, "classification": True}),
}


@pytest.mark.parametrize("projection", [NESTED, {"event_id": True}, {"actor": True}, REPEATING])
def test_projected_fields_equal_the_full_decode(projection: Projection) -> None:
    project = projection_decoder(AUDIT.schema, projection)

    @_SETTINGS
    @given(for_schema(AUDIT.schema))
    def check(record: dict[str, Any]) -> None:
        _assert_projects_as_the_full_decode(project, projection, record)

    check()


def test_accepts_exactly_what_the_full_decoder_accepts() -> None:
    project = projection_decoder(AUDIT.schema, NESTED)

    @_SETTINGS
    @given(for_schema(AUDIT.schema), st.data())
    def check(record: dict[str, Any], data: st.DataObject) -> None:
        body = bytearray(_encoded(record))
        index = data.draw(st.integers(0, len(body) - 1))
        body[index] = data.draw(st.integers(0, 255))
        cut = bytes(body[: data.draw(st.integers(1, len(body)))])
        for damaged in (bytes(body), cut):
            full, projected = _outcome(AUDIT.codec_micros[0], damaged), _outcome(project, damaged)
            assert (full[0] == "ok") == (projected[0] == "ok")
            assert full[1] == projected[1]

    check()


def test_bad_utf8_in_a_skipped_string_is_refused() -> None:
    event = audit_event()
    event["payload"]["args_digest"] = "é" * 10
    body = _encoded(event).replace("é".encode(), b"\xff\xfe", 1)
    with pytest.raises(UnicodeDecodeError):
        projection_decoder(AUDIT.schema, {"event_id": True})(body, 0)


def test_unknown_field_names_are_refused_when_generating() -> None:
    with pytest.raises(SchemaError):
        projection_decoder(AUDIT.schema, {"actor": {"no_such_field": True}})


def test_deserializer_projects_the_current_schema_and_decodes_old_writers_whole() -> None:
    event = audit_event()
    decode = Deserializer("AuditEvent", projection={"event_id": True, "event_time": True})
    current = decode(SingleObjectSerializer("AuditEvent")(event))
    assert current == {"event_id": event["event_id"], "event_time": current["event_time"]}
    assert isinstance(current["event_time"], int)
    older = next(
        w for w in registry.released().values()
        if w.record == "AuditEvent" and w.fingerprint != AUDIT.fingerprint
    )  # fmt: skip
    old_body = SINGLE_OBJECT_MAGIC + older.fingerprint + _older_body(older, event)
    whole = decode(old_body)
    assert whole["event_id"] == event["event_id"] and "integrity" in whole
    assert isinstance(whole["event_time"], int)


def _older_body(writer: registry.WriterSchema, event: dict[str, Any]) -> bytes:
    parts: list[bytes] = []
    fields = {f["name"] for f in writer.schema["fields"]}
    writer.codec[1]({k: v for k, v in event.items() if k in fields}, parts.append)
    return b"".join(parts)


def test_truncated_projected_body_is_a_deserialization_error() -> None:
    body = SingleObjectSerializer("AuditEvent")(audit_event())
    with pytest.raises(DeserializationError):
        Deserializer("AuditEvent", projection={"event_id": True})(body[:-3])


def test_a_repeating_record_decodes_as_the_walk_would_across_many_messages() -> None:
    # Records drawn from a small pool, so encodings repeat, partly repeat (a shared
    # prefix, a different end) and collide in the table's index: every message must
    # still decode exactly as the full codec decodes it.
    project = projection_decoder(AUDIT.schema, REPEATING)

    @_SETTINGS
    @given(st.lists(for_schema(AUDIT.schema), min_size=1, max_size=4), st.data())
    def check(pool: list[dict[str, Any]], data: st.DataObject) -> None:
        for _ in range(6):
            record = dict(data.draw(st.sampled_from(pool)))
            record["actor"] = data.draw(st.sampled_from(pool))["actor"]
            _assert_projects_as_the_full_decode(project, REPEATING, record)

    check()


def test_a_repeated_encoding_is_answered_from_memory_and_damage_is_still_refused() -> None:
    project = projection_decoder(AUDIT.schema, REPEATING)
    first, second = audit_event(), audit_event(seq=2)
    one, two = project(_encoded(first), 0)[0], project(_encoded(second), 0)[0]
    assert two["actor"] is one["actor"]  # the same bytes: the remembered value
    changed = audit_event()
    changed["actor"]["session_id"] = "s-2"
    assert project(_encoded(changed), 0)[0]["actor"] is not one["actor"]
    cut = _encoded(first)
    actor_at = cut.index(first["actor"]["user_pseudonym"].encode())
    with pytest.raises((EOFError, IndexError)):
        project(cut[: actor_at + 40], 0)  # a remembered prefix never covers a cut body


def test_only_records_can_be_repeating() -> None:
    with pytest.raises(SchemaError):
        projection_decoder(AUDIT.schema, {"event_id": Repeating({"a": True})})
