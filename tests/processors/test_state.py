"""A state snapshot keeps what a batch left, whatever the worker changes while the batch's
output is still being acknowledged.

The table is a real Faust table of an app that is never started (building one needs
no broker); tests/processors/test_app.py runs the whole worker end to end (detector
state surviving a restart, read back by Faust from what this module wrote).
"""

from __future__ import annotations

import json
from typing import Any

import faust

from processors.settings import ProcessorSettings
from processors.state import PARTITION_FIELD, TOOL_PREFIX, TableBackedState
from processors.wiring import faust_options
from schemas.kafka import KafkaSettings


def _table() -> Any:
    settings = ProcessorSettings.load(environ={})
    app = faust.App("state-test", **faust_options(KafkaSettings.load(environ={}), settings))
    return app.GlobalTable("detector-state", partitions=1)


def test_snapshot_is_the_state_when_taken_and_messages_carry_it() -> None:
    table = _table()
    state = TableBackedState(table)
    state.users["u1"] = {"rate": {"n": 1, "m": 0.5}, "seen": {"tool": {"t": 1}}}
    state.users["u2"] = {"rate": {"n": 7}}
    state.tools["files\x1fread"] = "f" * 64
    entries = state.snapshot(["u1", "gone"], {"u1": 2})
    state.users["u1"]["rate"]["n"] = 99  # the next batch goes on changing live state
    state.users["u1"]["seen"]["tool"]["t2"] = 1
    messages = state.messages(entries)
    assert [(json.loads(m.key or b""), json.loads(m.value)) for m in messages] == [
        ("u1", {"rate": {"n": 1, "m": 0.5}, "seen": {"tool": {"t": 1}}, PARTITION_FIELD: 2}),
        (TOOL_PREFIX + "files\x1fread", "f" * 64),
    ]
    assert state.topic == "state-test-detector-state-changelog"
    assert state.users["u1"][PARTITION_FIELD] == 2  # the live state is tagged too


def test_changed_tools_go_out_once() -> None:
    state = TableBackedState(_table())
    state.tools["s\x1ft"] = "a" * 64
    assert [key for key, _ in state.snapshot([], {})] == [TOOL_PREFIX + "s\x1ft"]
    assert state.snapshot([], {}) == []
