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
import pytest
from faust.serializers import codecs

from processors.settings import ProcessorSettings
from processors.state import PARTITION_FIELD, TOOL_PREFIX, TableBackedState
from processors.wiring import faust_options
from schemas.errors import ConfigError
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


def test_faust_reads_the_messages_as_it_reads_its_own() -> None:
    table = _table()
    state = TableBackedState(table)
    live = {"rate": {"n": 3, "m": 1e-05, "t": 1_796_000_000_000_000}, "hour": {"h": [0.5] * 24}}
    state.users["u" * 64] = live
    (message,) = state.messages(state.snapshot(["u" * 64], {"u" * 64: 1}))
    faust_value, _ = table.changelog_topic.prepare_value(live, table.value_serializer)
    faust_key, _ = table.changelog_topic.prepare_key("u" * 64, table.key_serializer)
    assert codecs.loads("json", message.value) == codecs.loads("json", faust_value)
    assert codecs.loads("json", message.key or b"") == codecs.loads("json", faust_key)


def test_a_table_not_in_json_is_refused() -> None:
    table = _table()
    table.value_serializer = "raw"
    with pytest.raises(ConfigError):
        TableBackedState(table)


def test_changed_tools_go_out_once() -> None:
    state = TableBackedState(_table())
    state.tools["s\x1ft"] = "a" * 64
    assert [key for key, _ in state.snapshot([], {})] == [TOOL_PREFIX + "s\x1ft"]
    assert state.snapshot([], {}) == []
