"""Randomised tampering with a stored stream: verification finds every change and names it."""

from __future__ import annotations

import copy
import random
import uuid
from datetime import timedelta
from typing import Any

from schemas.integrity import chain_hash
from schemas.verify import verify_stream
from tests.schemas.factories import audit_event

TRIALS = 1000
LENGTH = 30


def _stream(length: int) -> list[dict[str, Any]]:
    events, previous = [], ""
    template = audit_event()
    for seq in range(1, length + 1):
        event = copy.deepcopy(template)
        event["event_id"] = str(uuid.uuid4())
        event["event_time"] = template["event_time"] + timedelta(milliseconds=seq)
        event["integrity"].update(seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        events.append(event)
    return events


def _rehash(event: dict[str, Any]) -> None:
    event["integrity"]["hash"] = chain_hash(event["integrity"]["prev_hash"], event)


def _delete(events: list[dict[str, Any]], rng: random.Random) -> tuple[str, int]:
    index = rng.randrange(len(events) - 1)  # the newest needs signed digests
    return "missing", events.pop(index)["integrity"]["seq"]


def _alter(events: list[dict[str, Any]], rng: random.Random) -> tuple[str, int]:
    victim = rng.choice(events)
    victim["outcome"]["status"] = "DENIED" if victim["outcome"]["status"] != "DENIED" else "ERROR"
    return "altered", victim["integrity"]["seq"]


def _alter_and_rehash(events: list[dict[str, Any]], rng: random.Random) -> tuple[str, int]:
    index = rng.randrange(len(events) - 1)
    events[index]["target"]["tool_name"] = "delete_everything"
    _rehash(events[index])
    return "broken-link", events[index + 1]["integrity"]["seq"]


def _reorder(events: list[dict[str, Any]], rng: random.Random) -> tuple[str, int]:
    """Swap two adjacent events' places in the sequence and re-hash both."""
    index = rng.randrange(1, len(events) - 2)
    first, second = events[index], events[index + 1]
    for event, seq in ((second, index + 1), (first, index + 2)):
        event["integrity"]["seq"] = seq
    second["integrity"]["prev_hash"] = events[index - 1]["integrity"]["hash"]
    _rehash(second)
    first["integrity"]["prev_hash"] = second["integrity"]["hash"]
    _rehash(first)
    return "reordered", index + 2


def _insert(events: list[dict[str, Any]], rng: random.Random) -> tuple[str, int]:
    """A forged event that links to a real one and takes the next one's number."""
    index = rng.randrange(len(events) - 1)
    forged = copy.deepcopy(events[index + 1])
    forged["event_id"] = str(uuid.uuid4())
    forged["actor"]["user_pseudonym"] = "b" * 64
    _rehash(forged)
    events.insert(index + 1, forged)
    FORGED.add(forged["event_id"])
    return "inserted", forged["integrity"]["seq"]


FORGED: set[str] = set()
TAMPERS = [_delete, _alter, _alter_and_rehash, _reorder, _insert]


def test_untouched_stream_verifies_clean_even_with_duplicates_and_shuffled() -> None:
    events = _stream(LENGTH)
    stored = [*events, copy.deepcopy(events[3])]
    random.Random(1).shuffle(stored)
    assert verify_stream(stored) == []


def test_every_randomised_tampering_is_found_and_named() -> None:
    rng = random.Random(20261122)
    pristine = _stream(LENGTH)
    caught = 0
    for trial in range(TRIALS):
        events = copy.deepcopy(pristine)
        tamper = TAMPERS[trial % len(TAMPERS)]
        kind, seq = tamper(events, rng)
        rng.shuffle(events)
        findings = verify_stream(events)
        assert (kind, seq) in {(f.kind, f.seq) for f in findings}, (tamper.__name__, findings)
        if kind == "inserted":  # the forged row is named; the real one only at the newest seq
            named = {f.event_id for f in findings if f.kind == "inserted"}
            assert named & FORGED, findings
            assert named <= FORGED or seq == LENGTH, findings
        caught += 1
    assert caught == TRIALS


def test_stream_kept_from_a_later_sequence_is_clean_when_told() -> None:
    events = _stream(LENGTH)[10:]  # older events expired by retention
    assert verify_stream(events, first_seq=11) == []
    missing = {f.seq for f in verify_stream(events) if f.kind == "missing"}
    assert missing == set(range(1, 11))


def test_gaps_older_than_the_shortest_retention_are_expired_not_missing() -> None:
    from schemas.integrity import to_micros

    events = _stream(LENGTH)
    time_of = {e["integrity"]["seq"]: to_micros(e["event_time"]) for e in events}
    # Rows 1-5 and 11-12 gone (retention), 21 gone (deleted): only the last gap is young.
    kept = [e for e in events if e["integrity"]["seq"] not in {1, 2, 3, 4, 5, 11, 12, 21}]
    horizon = time_of[15]  # rows before 15 are past the shortest retention
    findings = verify_stream(kept, expired_before_us=horizon)
    assert {(f.kind, f.seq) for f in findings} == {
        *(("expired", s) for s in (1, 2, 3, 4, 5, 11, 12)),
        ("missing", 21),
    }
    assert [f.seq for f in findings if f.problem] == [21]
    # Without a horizon every gap is a problem, as before.
    assert all(f.problem for f in verify_stream(kept))
