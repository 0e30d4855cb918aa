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
    assert sum(len(list(fastavro.reader(io.BytesIO(f)))) for f in prepared.files) == 6
