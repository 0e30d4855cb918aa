from __future__ import annotations

from typing import Any

import orjson

from processors.watch.facts import StreamFacts
from processors.watch.streams import PipelineWatch

S = 1_000_000


def _seqs(*seqs: int) -> StreamFacts:
    return StreamFacts(list(seqs), None, None, "h")


def _heartbeat(seq: int, spooled: int = 0, dropped: int = 0, final: bool = False) -> StreamFacts:
    beat: dict[str, Any] = {
        "interval_s": 10,
        "events_sent": seq,
        "events_spooled": spooled,
        "events_dropped": dropped,
        "redactions": 0,
        "audit_failures": 0,
        "spool_bytes": 0,
        "final": final,
    }
    return StreamFacts([seq], beat, seq, "h")


def test_out_of_order_sequence_within_grace_is_no_gap() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    for batch in ((1, 3), (2, 5), (4,), (6,)):
        watch.observe("s1", _seqs(*batch), 0)
    assert watch.check(60 * S) == []


def test_missing_sequence_numbers_are_a_gap_after_grace() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    watch.observe("s1", _seqs(7, 1, 6, 2), 0)
    assert watch.check(10 * S) == []
    [gap] = watch.check(31 * S)
    assert gap.detector == "sequence_gap"
    assert gap.attributes == {"stream_id": "s1", "first_missing": "3", "missing": "3"}
    watch.observe("s1", _seqs(8), 32 * S)
    assert watch.check(100 * S) == []


def test_silent_producer_alerts_once_and_again_after_it_returns() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    watch.observe("s1", _heartbeat(1), 0)
    assert watch.check(29 * S) == []
    [silent] = watch.check(31 * S)
    assert silent.detector == "heartbeat_missing"
    assert watch.check(60 * S) == []
    watch.observe("s1", _heartbeat(2), 61 * S)
    assert [f.detector for f in watch.check(100 * S)] == ["heartbeat_missing"]


def test_clean_stop_is_no_alert_but_a_crash_still_is() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    for stream in ("clean", "crashed"):
        watch.observe(stream, _heartbeat(1), 0)
        watch.observe(stream, _heartbeat(2), 10 * S)
    watch.observe("clean", _heartbeat(3, final=True), 15 * S)  # what close() sends
    [silent] = watch.check(60 * S)
    assert (silent.detector, silent.attributes["stream_id"]) == ("heartbeat_missing", "crashed")
    assert watch.check(3600 * S) == []


def test_final_beat_still_reports_its_counters() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    watch.observe("s1", _heartbeat(1), 0)
    found = watch.observe("s1", _heartbeat(2, spooled=3, final=True), S)
    assert [f.detector for f in found] == ["producer_spooling"]  # spooled on its way out


def test_stream_beating_again_after_its_final_beat_is_watched_again() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    watch.observe("s1", _heartbeat(1, final=True), 0)
    watch.observe("s1", _heartbeat(2), 10 * S)
    assert [f.detector for f in watch.check(100 * S)] == ["heartbeat_missing"]


def test_beat_replayed_after_the_final_one_does_not_revive_the_stream() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    watch.observe("s1", _heartbeat(9, final=True), 0)
    watch.observe("s1", _heartbeat(4, spooled=1), S)  # from the spool, sent after the close
    assert watch.check(100 * S) == []


def test_beats_without_order_or_flag_are_watched_as_before() -> None:
    """Facts from a worker that predates ``final`` and ``beat_seq``: every beat counts."""
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    found = []
    for seq, spooled in ((5, 0), (4, 2)):
        sent = orjson.loads(_heartbeat(seq, spooled=spooled).to_json())
        del sent["beat_seq"], sent["beat"]["final"]  # as such a worker wrote it on the topic
        found = watch.observe("s1", StreamFacts.from_json(orjson.dumps(sent)), 0)
    assert [f.detector for f in found] == ["producer_spooling"]
    assert [f.detector for f in watch.check(31 * S)] == ["heartbeat_missing"]


def test_spooling_and_drops_reported_by_heartbeats_alert_when_they_grow() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    assert watch.observe("s1", _heartbeat(1), 0) == []
    found = watch.observe("s1", _heartbeat(2, spooled=5, dropped=2), S)
    assert [(f.detector, f.score) for f in found] == [
        ("producer_spooling", 5.0),
        ("producer_drops", 2.0),
    ]
    assert watch.observe("s1", _heartbeat(3, spooled=5, dropped=2), 2 * S) == []


def test_ended_streams_are_forgotten_and_live_ones_kept() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S, forget_after_us=3600 * S)
    watch.observe("stopped", _heartbeat(1), 0)
    watch.observe("stopped", _heartbeat(2, final=True), 5 * S)
    watch.observe("crashed", _heartbeat(1), 0)
    watch.observe("gap", _seqs(1, 3), 0)  # no heartbeat; 2 never comes
    watch.observe("beating", _heartbeat(1), 0)
    watch.observe("no-beats", _seqs(1, 2), 0)
    for minute in range(1, 125):
        watch.observe("beating", _heartbeat(minute + 1), minute * 60 * S)
        findings = watch.check(minute * 60 * S)
        assert all(f.attributes["stream_id"] != "beating" for f in findings)
    # Two hours on: ended streams are gone, the live one and its sequence state stay.
    assert set(watch.producers) == {"beating"}
    assert set(watch.streams) == {"beating"}
    assert watch.streams["beating"].next_seq == 126
    # A forgotten stream that speaks again is learnt anew: no gap, no stale silence.
    watch.observe("crashed", _heartbeat(500), 7500 * S)
    watch.observe("beating", _heartbeat(126), 7500 * S)
    assert watch.check(7501 * S) == []
    assert watch.streams["crashed"].next_seq == 501


def test_a_stream_with_a_pending_gap_is_not_forgotten_before_the_gap_is_reported() -> None:
    watch = PipelineWatch(3.0, sequence_grace_us=7200 * S, forget_after_us=60 * S)
    watch.observe("s1", _heartbeat(1), 0)
    watch.observe("s1", _heartbeat(3, final=True), 1 * S)
    assert watch.check(3600 * S) == []
    assert "s1" in watch.streams
    [gap] = watch.check(7202 * S)
    assert gap.detector == "sequence_gap"
