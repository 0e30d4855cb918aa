"""Batches and their files: deterministic tokens, offsets after the batch, bad ones set aside."""

from __future__ import annotations

import io

import fastavro

from sinks.batch import Batch
from sinks.prepare import prepare
from sinks.store import reencoder
from tests.schemas.factories import alert
from tests.sinks.helpers import ENCODE_ALERT, FakeMessage, messages


def test_same_offsets_same_token_and_commit_after_the_last() -> None:
    first, again, other = Batch(), Batch(), Batch()
    first.add(messages(10))
    again.add(messages(10))
    other.add(messages(11))

    assert first.token("enriched") == again.token("enriched") != other.token("enriched")
    assert [(tp.partition, tp.offset) for tp in first.commit_offsets()] == [(0, 10)]
    assert first.due(max_rows=10, max_seconds=60) and not first.due(11, 60)


def test_bad_messages_are_set_aside_with_their_reason() -> None:
    good = messages(6)
    bad = [
        FakeMessage(b"garbage", 100),
        FakeMessage(ENCODE_ALERT(alert()), 101),
        FakeMessage(b"\x00\x00\x00\x00\x07" + good[0].value()[10:], 102),  # Confluent framing
        FakeMessage(b"\xc3\x01" + b"\x00" * 8 + b"body", 103),  # unknown fingerprint
    ]

    prepared = prepare("EnrichedEvent", good + bad, 2, reencoder("EnrichedEvent", None))

    assert [r.reason for r in prepared.rejected] == [
        "unknown-framing", "unknown-schema", "wrong-record", "unknown-schema",
    ]  # fmt: skip
    assert prepared.accepted == good and len(prepared.files) == 2
    assert sum(len(list(fastavro.reader(io.BytesIO(b"".join(f))))) for f in prepared.files) == 6


def test_a_stray_message_does_not_change_how_the_good_ones_are_filed() -> None:
    """The all-current fast path and the regrouping path make the same files."""
    good = messages(9)
    stray = FakeMessage(b"garbage", 100)
    reencode = reencoder("EnrichedEvent", None)

    fast = prepare("EnrichedEvent", good, 2, reencode)
    mixed = prepare("EnrichedEvent", [*good, stray], 2, reencode)

    assert fast.accepted == mixed.accepted == good and fast.rejected == []
    assert [b"".join(f) for f in fast.files] == [b"".join(f) for f in mixed.files]
    assert [r.message for r in mixed.rejected] == [stray]


def test_a_message_of_only_a_header_is_not_taken_as_current() -> None:
    good = messages(2)
    bare = FakeMessage(good[0].value()[:10], 7)

    prepared = prepare("EnrichedEvent", [*good, bare], 1, reencoder("EnrichedEvent", None))

    assert prepared.accepted == good
    assert [r.message for r in prepared.rejected] == [bare]
