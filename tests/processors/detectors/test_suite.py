"""The suite gathers its per-user detectors once, each over its own slot of a user's state.

A deployment's state table outlives releases: a detector added in a release (or
one a deployer adds) meets users whose stored state has no slot for it. Their
events must be enriched as any other, never dead-lettered for a missing key.
The worker here is the app's enricher over a real Faust table's state (an app
never started: building one needs no broker), as tests/processors/test_state.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import pytest

from processors.batch import BatchEnricher
from processors.detectors.base import NOTHING, Finding, Findings, UserDetector
from processors.detectors.suite import DetectorSuite, user_detectors
from processors.features import Features
from processors.settings import ProcessorSettings
from processors.state import TableBackedState
from processors.wiring import build_enricher, faust_options, state_tokens
from schemas.errors import ConfigError
from schemas.integrity import to_micros
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.processors.helpers import raw
from tests.schemas.factories import audit_event

ENCODE = SingleObjectSerializer("AuditEvent")
USER = "a" * 64  # the factory's user
# The slots as stored in deployed state tables: renaming one forgets what users taught it.
STORED_SLOTS = ("seen", "rate", "burst", "hour", "enum", "size")


@dataclass(frozen=True)
class CallCounter:
    """A detector a deployer adds: fires on a user's third call it sees."""

    name: str = "third_call"
    slot: str = "calls"

    def observe(self, facts: Features, state: dict[str, Any]) -> Findings:
        state["n"] = state.get("n", 0) + 1
        if state["n"] != 3:
            return NOTHING
        return (Finding(self.name, "LOW", 3.0, "third call", facts.user, {}),)


def _worker(tmp_path: Path) -> tuple[BatchEnricher, TableBackedState, ProcessorSettings]:
    settings = ProcessorSettings.load(environ={}, data_dir=tmp_path / "data")
    app = faust.App("suite-test", **faust_options(KafkaSettings.load(environ={}), settings))
    state = TableBackedState(app.GlobalTable("detector-state", partitions=1))
    return build_enricher(settings, state), state, settings


def _calls(first_seq: int, count: int) -> list[dict[str, Any]]:
    return [audit_event(seq=first_seq + i, phase="EVENT", call_id="") for i in range(count)]


def _process(worker: BatchEnricher, events: list[dict[str, Any]]) -> Any:
    now = to_micros(events[-1]["event_time"])
    return worker.process([raw(ENCODE(e), i) for i, e in enumerate(events)], now)


def test_state_stored_before_a_detector_existed_loses_no_event(tmp_path: Path) -> None:
    worker, state, _ = _worker(tmp_path)
    assert not _process(worker, _calls(1, 5)).dead
    # As a release before the result-size detector stored it, read back from the changelog.
    del state.users[USER]["size"]
    events = _calls(6, 5)
    out = _process(worker, events)
    assert [(d.headers, d.value) for d in out.dead] == []
    decoded = [Deserializer("EnrichedEvent")(m.value) for m in out.enriched]
    assert [d["event"]["event_id"] for d in decoded] == [e["event_id"] for e in events]
    assert state.users[USER]["size"]["k"] == 5  # made on first use, it learnt from all five


def test_a_detector_added_to_a_running_worker_learns_its_users_and_loses_nothing(
    tmp_path: Path,
) -> None:
    worker, state, settings = _worker(tmp_path)
    assert not _process(worker, _calls(1, 5)).dead
    tokens = state_tokens(settings)
    worker.detectors = DetectorSuite(
        state.users, state.tools, tokens, detectors=(*user_detectors(tokens), CallCounter())
    )
    out = _process(worker, _calls(6, 4))
    assert not out.dead and len(out.enriched) == 4
    alerts = [Deserializer("Alert")(m.value)["detector"] for m in out.alerts]
    assert alerts == ["third_call"]
    # What the changelog carries for the user now holds the new slot beside the old ones.
    messages = state.messages(state.snapshot(worker.detectors.dirty_users, {USER: 0}))
    [stored] = [json.loads(m.value) for m in messages if json.loads(m.key or b"") == USER]
    assert stored["calls"] == {"n": 4}
    assert set(STORED_SLOTS) <= set(stored)


def test_the_default_detectors_keep_the_slots_deployed_state_is_stored_under() -> None:
    detectors: tuple[UserDetector, ...] = user_detectors(str)
    assert tuple(d.slot for d in detectors) == STORED_SLOTS


def test_two_detectors_on_one_slot_are_refused() -> None:
    with pytest.raises(ConfigError) as refused:
        DetectorSuite({}, {}, detectors=(CallCounter(), CallCounter(name="other")))
    assert refused.value.fields["slots"] == ["calls", "calls"]
