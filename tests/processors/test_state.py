"""A state snapshot keeps what a batch left, whatever the worker changes while the batch's
output is still being acknowledged.

The table here is a stand-in recording ``send_changelog``: a real Faust table needs a
running app and worker, which tests/processors/test_app.py runs end to end (detector
state surviving a restart); this file checks the copy semantics alone.
"""

from __future__ import annotations

from typing import Any

from processors.state import PARTITION_FIELD, TOOL_PREFIX, TableBackedState


class RecordingTable:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sent: list[tuple[int | None, str, Any]] = []

    def send_changelog(self, partition: int | None, key: Any, value: Any) -> None:
        self.sent.append((partition, key, value))


def test_snapshot_is_the_state_when_taken_and_send_writes_it() -> None:
    table = RecordingTable()
    state = TableBackedState(table)
    state.users["u1"] = {"rate": {"n": 1, "m": 0.5}, "seen": {"tool": {"t": 1}}}
    state.users["u2"] = {"rate": {"n": 7}}
    state.tools["files\x1fread"] = "f" * 64
    entries = state.snapshot(["u1", "gone"], {"u1": 2})
    state.users["u1"]["rate"]["n"] = 99  # the next batch goes on changing live state
    state.users["u1"]["seen"]["tool"]["t2"] = 1
    state.send(entries)
    assert table.sent == [
        (0, "u1", {"rate": {"n": 1, "m": 0.5}, "seen": {"tool": {"t": 1}}, PARTITION_FIELD: 2}),
        (0, TOOL_PREFIX + "files\x1fread", "f" * 64),
    ]
    assert state.users["u1"][PARTITION_FIELD] == 2  # the live state is tagged too


def test_changed_tools_go_out_once() -> None:
    state = TableBackedState(RecordingTable())
    state.tools["s\x1ft"] = "a" * 64
    assert [key for key, _ in state.snapshot([], {})] == [TOOL_PREFIX + "s\x1ft"]
    assert state.snapshot([], {}) == []
