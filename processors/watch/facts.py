"""What the self-watch learns of each producer stream from one enrichment batch. No I/O.

Raw events are keyed by user, so one stream's events reach several workers;
each batch sends, per stream it saw, one :class:`StreamFacts` on the watch topic,
keyed by stream id, where all of a stream's facts meet (:mod:`processors.watch_agent`).
The JSON on that topic keeps its keys (``seqs``, ``beat``, ``beat_seq``, ``host``)
across releases: workers of two releases share the topic during an upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from processors.messages import OutMessage


@dataclass(slots=True)
class StreamFacts:
    """One stream's sequence numbers in a batch, and its latest heartbeat there (by seq).

    ``beat`` is the heartbeat record as the event carries it; ``beat_seq`` is None
    where no beat came (or in facts from a worker that predates the field).
    """

    seqs: list[int]
    beat: dict[str, Any] | None
    beat_seq: int | None
    host: str

    def to_json(self) -> bytes:
        return orjson.dumps(self)  # the fields in order: the keys the topic has always had

    @classmethod
    def from_json(cls, value: bytes) -> StreamFacts:
        facts = orjson.loads(value)
        return cls(facts["seqs"], facts.get("beat"), facts.get("beat_seq"), facts["host"])


class StreamFactsCollector:
    """Per batch, the :class:`StreamFacts` of each producer stream the enricher saw."""

    def __init__(self) -> None:
        self._streams: dict[str, StreamFacts] = {}

    def add(self, event: dict[str, Any]) -> None:
        integrity = event["integrity"]
        facts = self._streams.get(integrity["stream_id"])
        if facts is None:
            host = event["context"]["producer"]["host"]
            facts = self._streams[integrity["stream_id"]] = StreamFacts([], None, None, host)
        seq = integrity["seq"]
        facts.seqs.append(seq)
        # Latest by seq, not by arrival: a producer replays its spool after newer
        # events, so an old beat can arrive after the final one.
        beat = event.get("heartbeat") if event["event_type"] == "HEARTBEAT" else None
        if beat is not None and (facts.beat_seq is None or seq > facts.beat_seq):
            facts.beat, facts.beat_seq = beat, seq

    def drain(self) -> list[OutMessage]:
        """One message per stream seen since the last drain, keyed by stream id."""
        out = [OutMessage(s.encode(), f.to_json()) for s, f in self._streams.items()]
        self._streams = {}
        return out
