"""The hand-written encoder writes exactly what the contract's serializer and reader agree on.

Every test runs against both sealers: the compiled one and the Python one it must match.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from producers.event.enums import CLASSIFICATIONS, EVENT_TYPES, PHASES, STATUSES
from producers.event.model import (
    Actor,
    Annotations,
    CallEvent,
    Compliance,
    Delegation,
    Heartbeat,
    Lineage,
    Outcome,
    Producer,
    Target,
    to_avro,
)
from producers.event.sealer import Sealer
from schemas import registry
from schemas.integrity import OriginKey, chain_hash
from schemas.repair import ALTERED_KEY, repaired
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.oracle import official_decode


def _events(text: Any, small: Any, longs: Any) -> Any:
    """CallEvents with texts, Avro ints and longs from these strategies."""
    opt = st.none() | text
    opt_bool = st.none() | st.booleans()
    names = st.lists(text, max_size=4).map(tuple)
    actors = st.builds(
        Actor, opt, opt, opt, opt, opt, opt, opt, opt, opt, names, opt,
        st.none() | st.builds(Delegation, opt, opt, opt), opt,  # session_digest
    )  # fmt: skip
    targets = st.builds(
        Target, text, opt, opt, opt, opt, opt,
        st.none() | st.builds(Annotations, opt_bool, opt_bool, opt_bool, opt_bool), opt,
        st.sampled_from(CLASSIFICATIONS), opt, opt,  # resource_uri and prompt_name digests
    )  # fmt: skip
    outcome = st.none() | st.builds(
        Outcome, st.sampled_from(STATUSES), longs, opt, opt, st.none() | longs
    )
    beats = st.none() | st.builds(
        Heartbeat, small, longs, longs, longs, longs, longs, longs, st.booleans()
    )
    return st.builds(
        CallEvent,
        event_type=st.sampled_from(EVENT_TYPES),
        phase=st.sampled_from(PHASES),
        call_id=text,
        actor=actors,
        target=targets,
        producer=st.builds(Producer, text, small, text, text, opt, opt),
        compliance=st.builds(Compliance, small, st.booleans(), opt, opt),
        arg_keys=names,
        args_json=opt,
        args_digest=opt,
        result_json=opt,
        result_digest=opt,
        truncated=st.booleans(),
        redactions=small,
        outcome=outcome,
        request_id=opt,
        trace_id=opt,
        span_id=opt,
        ai=st.none() | st.fixed_dictionaries({"model": opt, "reason": opt, "user_intent": opt}),
        lineage=st.none() | st.builds(Lineage, opt, names, names, names),
        heartbeat=beats,
        attributes=st.dictionaries(text, text, max_size=3),
    )


text = st.text(max_size=40)  # astral characters, no lone surrogates (hypothesis's default)
opt = st.none() | text
longs = st.integers(-(2**63), 2**63 - 1)
int32 = st.integers(-(2**31), 2**31 - 1)
ai = st.none() | st.fixed_dictionaries({"model": opt, "reason": opt, "user_intent": opt})
outcomes = st.none() | st.builds(
    Outcome, st.sampled_from(STATUSES), longs, opt, opt, st.none() | longs
)


def call_events() -> Any:
    return _events(text, int32, longs)


# What no reader reads, mixed with what every reader does: lone surrogates (as
# surrogateescape makes them) and integers past 32 and 64 bits.
wild_text = text | st.text(st.characters(categories=["Cs", "Ll", "Nd", "Po"]), max_size=12)
wild_int = int32 | st.integers(-(2**70), 2**70)
wild_long = longs | st.integers(-(2**70), 2**70)


def wild_events() -> Any:
    return _events(wild_text, wild_int, wild_long)


def _expected(event: CallEvent) -> dict[str, Any]:
    record = to_avro(event)
    record["event_time"] = datetime.fromtimestamp(0, UTC) + _micros(event.event_time_us)
    return record


def _micros(value: int) -> Any:
    from datetime import timedelta

    return timedelta(microseconds=value)


@settings(max_examples=300, deadline=None)
@given(event=call_events())
def test_bytes_decode_to_the_intended_event_and_match_fastavro(
    native: bool, event: CallEvent
) -> None:
    data = Sealer(native=native).seal(event)
    assert Deserializer("AuditEvent")(data) == _expected(event)
    assert data == SingleObjectSerializer("AuditEvent")(to_avro(event))
    assert official_decode(data, "AuditEvent")["event_id"] == event.event_id
    assert ALTERED_KEY not in event.attributes  # nothing to repair: nothing marked


_SEALED = ("event_id", "event_time_us", "stream_id", "seq", "prev_hash", "hash")


@settings(max_examples=200, deadline=None)
@given(event=wild_events())
def test_what_no_reader_reads_is_repaired_alike_by_both_sealers_and_the_contract(
    native: bool, event: CallEvent
) -> None:
    # Sealing never refuses the event; its bytes are the contract serializer's for the
    # unrepaired event (so the compiled and Python sealers agree byte for byte), the
    # official Avro library reads and validates them, and the chain hash covers what
    # was written.
    original = copy.deepcopy(event)
    data = Sealer(native=native).seal(event)
    for name in _SEALED:
        setattr(original, name, getattr(event, name))
    original.call_id = original.call_id or event.call_id  # an ATTEMPT's is its event id
    assert data == SingleObjectSerializer("AuditEvent")(to_avro(original))
    official = official_decode(data, "AuditEvent")
    decoded = Deserializer("AuditEvent")(data)
    assert official["attributes"] == decoded["attributes"]
    assert chain_hash("", decoded) == event.hash
    _, altered = repaired(registry.current("AuditEvent").schema, to_avro(original))
    assert decoded["attributes"].get(ALTERED_KEY) == (",".join(altered) or None)


def test_header_is_single_object_magic_and_current_fingerprint(native: bool) -> None:
    event = CallEvent(
        "TOOL_CALL", "ATTEMPT", "c1", Actor(), Target("srv"), Producer("h", 1, "0", "decorator"),
        Compliance(),
    )  # fmt: skip
    data = Sealer(native=native).seal(event)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == registry.current("AuditEvent").fingerprint


@settings(max_examples=100, deadline=None)
@given(events=st.lists(call_events(), min_size=1, max_size=5))
def test_stream_hash_is_the_contract_chain_hash(native: bool, events: list[CallEvent]) -> None:
    sealer, prev = Sealer(native=native), ""
    for seq, event in enumerate(events, start=1):
        decoded = Deserializer("AuditEvent")(sealer.seal(event))
        assert decoded["integrity"]["seq"] == seq
        assert decoded["integrity"]["prev_hash"] == prev
        assert chain_hash(prev, decoded) == decoded["integrity"]["hash"]
        prev = decoded["integrity"]["hash"]


@settings(max_examples=100, deadline=None)
@given(attempt=call_events(), outcome=outcomes, args_dropped=st.booleans())
def test_a_result_reusing_its_attempts_segments_encodes_like_fastavro(
    native: bool, attempt: CallEvent, outcome: Outcome | None, args_dropped: bool
) -> None:
    # As Auditor.result_event builds it: fields copied from the attempt, its shared
    # segments handed on; a result too large for the broker loses its arguments.
    sealer = Sealer(native=native)
    attempt.phase = "ATTEMPT"
    sealer.seal(attempt)
    result = CallEvent(
        attempt.event_type, "RESULT", attempt.call_id, attempt.actor, attempt.target,
        attempt.producer, attempt.compliance, attempt.arg_keys,
        None if args_dropped else attempt.args_json, attempt.args_digest,
        result_json="{}", truncated=args_dropped, redactions=attempt.redactions + 1,
        outcome=outcome, request_id=attempt.request_id, trace_id=attempt.trace_id,
        span_id=attempt.span_id, ai=attempt.ai, lineage=attempt.lineage,
        heartbeat=attempt.heartbeat, attributes=attempt.attributes, shared=attempt.shared,
    )  # fmt: skip
    data = sealer.seal(result)
    assert Deserializer("AuditEvent")(data) == _expected(result)
    assert data == SingleObjectSerializer("AuditEvent")(to_avro(result))
    assert official_decode(data, "AuditEvent")["phase"] == "RESULT"


def test_ids_and_digests_of_id_length_but_not_ascii_keep_their_byte_length(
    native: bool,
) -> None:
    # Found by the property test: 36 (or 64) characters are more bytes when not ASCII.
    event = CallEvent(
        "TOOL_CALL", "RESULT", "0" * 35 + "é", Actor(), Target("srv"),
        Producer("h", 1, "0", "decorator"), Compliance(), args_digest="é" * 64,
    )  # fmt: skip
    data = Sealer(native=native).seal(event)
    assert Deserializer("AuditEvent")(data) == _expected(event)


@settings(max_examples=100, deadline=None)
@given(
    base=call_events(),
    changes=st.lists(
        st.tuples(opt, opt, ai, st.dictionaries(text, text, max_size=2), outcomes), max_size=6
    ),
)
def test_events_sharing_actor_target_and_producer_encode_each_their_own_fields(
    native: bool, base: CallEvent, changes: list[tuple[Any, ...]]
) -> None:
    # The compiled sealer remembers what follows from these shared objects; what varies
    # per event (arguments, request ids, AI context, attributes, outcome) must not stick.
    sealer = Sealer(native=native)
    for args_json, request_id, ai_context, attributes, outcome in [
        (None, None, None, {}, None),
        *changes,
    ]:
        event = CallEvent(
            base.event_type, base.phase, base.call_id, base.actor, base.target, base.producer,
            base.compliance, base.arg_keys, args_json, base.args_digest, request_id=request_id,
            ai=ai_context, attributes=attributes, outcome=outcome,
        )  # fmt: skip
        data = sealer.seal(event)
        assert data == SingleObjectSerializer("AuditEvent")(to_avro(event))
        official_decode(data, "AuditEvent")


@settings(max_examples=100, deadline=None)
@given(
    events=st.lists(call_events(), min_size=1, max_size=4),
    key=st.binary(min_size=32, max_size=130),  # past 64 bytes HMAC hashes the key first
)
def test_a_keyed_stream_carries_the_hmac_of_each_link_under_its_key(
    native: bool, events: list[CallEvent], key: bytes
) -> None:
    # Checked against the standard library's HMAC, not against schemas.integrity: an
    # attacker's MAC must not verify, so the MAC must be the one RFC 2104 defines.
    sealer = Sealer(native=native, origin=OriginKey("deploy-2", key))
    for event in events:
        data = sealer.seal(event)
        decoded = Deserializer("AuditEvent")(data)
        link = decoded["integrity"]["hash"]
        expected = hmac.new(key, bytes.fromhex(link), hashlib.sha256).hexdigest()
        assert decoded["integrity"]["mac"] == expected == event.origin_mac
        assert decoded["integrity"]["key_id"] == "deploy-2"
        assert data == SingleObjectSerializer("AuditEvent")(to_avro(event))


def test_an_unkeyed_stream_carries_no_key_id_and_no_mac(native: bool) -> None:
    event = CallEvent(
        "TOOL_CALL", "ATTEMPT", "c1", Actor(), Target("srv"), Producer("h", 1, "0", "decorator"),
        Compliance(),
    )  # fmt: skip
    decoded = Deserializer("AuditEvent")(Sealer(native=native).seal(event))
    assert decoded["integrity"]["key_id"] is None and decoded["integrity"]["mac"] is None
