"""Producer streams watched (PCI-DSS 10.7.2): silent producers, spooling, drops, sequence gaps.

Lifecycle: one :class:`PipelineWatch` per worker, in the self-watch agent
(:mod:`processors.watch_agent`), fed each stream's :class:`StreamFacts` (:meth:`observe`) and
ticked with the current time (:meth:`check`). State is in
memory; after a restart each stream is learnt again from its next event.
Sequence numbers are checked per ``integrity.stream_id``; events of one
stream arrive from several partitions in any order, so a missing number is a
gap only once it stayed missing for ``sequence_grace_us``. A producer that
stops cleanly says so with a final heartbeat, and its silence after that is no
``heartbeat_missing``; a crashed one sends none, so its silence still is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processors.detectors.base import Finding
from processors.watch.facts import StreamFacts
from schemas.integrity import DAY_US

MAX_AHEAD = 100_000  # out-of-order seqs held per stream before a gap is declared at once


@dataclass
class StreamState:
    next_seq: int
    ahead: set[int] = field(default_factory=set)
    missing_since_us: int | None = None
    last_us: int = 0


@dataclass
class ProducerState:
    last_us: int
    interval_s: int
    spooled: int
    dropped: int
    host: str
    silent: bool = False
    beat_seq: int | None = None
    stopped: bool = False  # its latest beat was final: a clean stop, silence is expected


class PipelineWatch:
    def __init__(
        self, heartbeat_grace: float, sequence_grace_us: int, forget_after_us: int = DAY_US
    ) -> None:
        self.heartbeat_grace = heartbeat_grace
        self.sequence_grace_us = sequence_grace_us
        self.forget_after_us = forget_after_us
        self.streams: dict[str, StreamState] = {}
        self.producers: dict[str, ProducerState] = {}

    def observe(self, stream: str, facts: StreamFacts, now_us: int) -> list[Finding]:
        """Record a batch's sequence numbers of ``stream``; findings its heartbeat shows.

        A final beat stops watching the stream for silence; a later beat
        starts again. A beat older than the one already seen (a spool replayed after
        newer events) is ignored: it says nothing about the producer now.
        """
        for seq in sorted(facts.seqs):
            self._sequence(stream, seq, now_us)
        beat = facts.beat
        if beat is None:
            return []
        host, beat_seq = facts.host, facts.beat_seq
        old = self.producers.get(stream)
        if old is not None and _older(beat_seq, old.beat_seq):
            return []
        self.producers[stream] = ProducerState(
            now_us, beat["interval_s"], beat["events_spooled"], beat["events_dropped"], host,
            beat_seq=beat_seq, stopped=bool(beat.get("final")),
        )  # fmt: skip
        return _counter_findings(stream, host, old, beat)

    def check(self, now_us: int) -> list[Finding]:
        """Silent producers and sequence gaps as of ``now_us``; ended streams are forgotten."""
        found = self._silent(now_us) + self._gaps(now_us)
        self._forget(now_us - self.forget_after_us)
        return found

    def _forget(self, horizon_us: int) -> None:
        ended = [
            stream for stream, producer in self.producers.items()
            if (producer.stopped or producer.silent) and producer.last_us < horizon_us
        ]  # fmt: skip
        for stream in ended:
            state = self.streams.get(stream)
            if state is None or (not state.ahead and state.last_us < horizon_us):
                del self.producers[stream]
                self.streams.pop(stream, None)
        # Streams never heard beating (older producers, lost heartbeats): by their events.
        quiet = [
            stream for stream, state in self.streams.items()
            if stream not in self.producers and not state.ahead and state.last_us < horizon_us
        ]  # fmt: skip
        for stream in quiet:
            del self.streams[stream]

    def _sequence(self, stream: str, seq: int, now_us: int) -> None:
        state = self.streams.get(stream)
        if state is None:
            self.streams[stream] = StreamState(seq + 1, last_us=now_us)
            return
        state.last_us = now_us
        if seq == state.next_seq:
            state.next_seq += 1
            while state.next_seq in state.ahead:
                state.ahead.discard(state.next_seq)
                state.next_seq += 1
            if not state.ahead:
                state.missing_since_us = None
        elif seq > state.next_seq:
            state.ahead.add(seq)
            if state.missing_since_us is None:
                state.missing_since_us = now_us

    def _gaps(self, now_us: int) -> list[Finding]:
        found = []
        for stream, state in self.streams.items():
            since = state.missing_since_us
            overdue = since is not None and now_us - since >= self.sequence_grace_us
            if overdue or len(state.ahead) > MAX_AHEAD:
                found.append(_gap(stream, state))
                _skip_gap(state, now_us)
        return found

    def _silent(self, now_us: int) -> list[Finding]:
        found = []
        for stream, producer in self.producers.items():
            if producer.stopped:
                continue
            limit = producer.interval_s * self.heartbeat_grace * 1_000_000
            if not producer.silent and now_us - producer.last_us > limit:
                producer.silent = True
                found.append(_silent_finding(stream, producer, now_us))
        return found


def _older(seq: int | None, than: int | None) -> bool:
    """Whether a beat at ``seq`` came before the one at ``than``; unknown is not older
    (facts from a worker that predates ``beat_seq`` carry none)."""
    return seq is not None and than is not None and seq < than


def _skip_gap(state: StreamState, now_us: int) -> None:
    """Accept the gap: continue from the lowest number seen past it."""
    state.next_seq = min(state.ahead)
    while state.next_seq in state.ahead:
        state.ahead.discard(state.next_seq)
        state.next_seq += 1
    state.missing_since_us = now_us if state.ahead else None


def _gap(stream: str, state: StreamState) -> Finding:
    first_after = min(state.ahead)
    missing = first_after - state.next_seq
    return Finding(
        "sequence_gap",
        "HIGH",
        float(missing),
        f"stream {stream} is missing {missing} event(s) from seq {state.next_seq}",
        stream,
        {"stream_id": stream, "first_missing": str(state.next_seq), "missing": str(missing)},
    )


def _silent_finding(stream: str, producer: ProducerState, now_us: int) -> Finding:
    quiet_s = (now_us - producer.last_us) / 1_000_000
    return Finding(
        "heartbeat_missing",
        "HIGH",
        quiet_s,
        f"producer {producer.host} (stream {stream}) silent for {quiet_s:.0f}s "
        f"(heartbeat every {producer.interval_s}s)",
        stream,
        {"stream_id": stream, "host": producer.host, "silent_s": f"{quiet_s:.0f}"},
    )


def _counter_findings(
    stream: str, host: str, old: ProducerState | None, beat: dict[str, Any]
) -> list[Finding]:
    found = []
    for detector, counter, before in (
        ("producer_spooling", beat["events_spooled"], old.spooled if old else 0),
        ("producer_drops", beat["events_dropped"], old.dropped if old else 0),
    ):
        if counter > before:
            found.append(
                Finding(
                    detector,
                    "CRITICAL" if detector == "producer_drops" else "HIGH",
                    float(counter - before),
                    f"producer {host} (stream {stream}) reports {counter - before} more "
                    f"{detector.split('_')[1]} events ({counter} in all)",
                    stream,
                    {"stream_id": stream, "host": host, "total": str(counter)},
                )
            )
    return found
