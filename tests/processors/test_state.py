"""A state snapshot keeps what a batch left, whatever the worker changes while the batch's
output is still being acknowledged.

The table is a real Faust table of an app that is never started (building one needs
no broker); tests/processors/test_app.py runs the whole worker end to end (detector
state surviving a restart, read back by Faust from what this module wrote).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.serializers import codecs

from processors.detectors.suite import DetectorSuite
from processors.settings import ProcessorSettings
from processors.state import (
    PARTITION_FIELD,
    TOOL_PREFIX,
    StateTokens,
    TableBackedState,
    load_state_key,
)
from processors.wiring import faust_options
from schemas.errors import ConfigError
from schemas.kafka import KafkaSettings
from tests.processors.traffic import START_US, call, population


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


def _changelog_bytes(state: TableBackedState, users: list[str]) -> bytes:
    entries = state.snapshot(users, dict.fromkeys(users, 0))
    return b"\n".join((m.key or b"") + b" " + m.value for m in state.messages(entries))


def _personal_traffic(n: int, start_us: int) -> list[Any]:
    rng = random.Random(5)
    user = population(1, seed=3)[0]
    return [
        call(
            user,
            start_us + i * 1_000_000,
            rng,
            event_type="RESOURCE_READ",
            resource=f"db://patients/{4700 + i}?ssn=078-05-{1120 + i}",
            ip=f"198.51.100.{i % 200}",
            client=f"claude-desktop/alice-laptop-{i % 3}",
        )
        for i in range(n)
    ]


def test_the_changelog_holds_no_resource_uri_ip_or_client_in_clear() -> None:
    """What anyone who reads the broker's changelog topic sees, after real detector work."""
    state = TableBackedState(_table())
    suite = DetectorSuite(state.users, state.tools, StateTokens(b"state-key-0123456789abcdef"))
    events = _personal_traffic(150, START_US)
    findings = [f for facts in events for f in suite.observe(facts)]
    written = _changelog_bytes(state, sorted(suite.dirty_users))
    # Tool names stay in the tool-definition map: the server's names, no one's data.
    values = {v for e in events for v in (e.resource, e.ip, e.client)}
    assert values and not [v for v in values if v and v.encode() in written]
    for needle in (b"patients", b"078-05", b"198.51.100", b"alice-laptop"):
        assert needle not in written
    assert any(f.detector == "enumeration" for f in findings)  # the detectors did their work
    assert any(f.attributes.get("ip", "").startswith("198.51.100") for f in findings)


def test_tokens_are_keyed_and_stable_so_a_restarted_worker_knows_what_was_seen(
    tmp_path: Path,
) -> None:
    key = load_state_key(None, tmp_path / "data")
    assert (tmp_path / "data" / "state.key").stat().st_mode & 0o777 == 0o600
    assert load_state_key(None, tmp_path / "data") == key  # the next start reads it back
    tokens = StateTokens(key)
    assert tokens("db://patients/42") == StateTokens(key)("db://patients/42")
    assert tokens("db://patients/42") != StateTokens(b"another-key-0123456789")("db://patients/42")
    plain = hashlib.sha256(b"db://patients/42").hexdigest()
    assert not plain.startswith(tokens("db://patients/42"))
    with pytest.raises(ConfigError):
        StateTokens(b"short")

    events = _personal_traffic(150, START_US)
    first = DetectorSuite({}, {}, StateTokens(key))
    for facts in events:
        first.observe(facts)
    # The users' state as the changelog carries it, read back by a new worker.
    restored = json.loads(json.dumps(first.users))
    second = DetectorSuite(restored, {}, StateTokens(key))
    hour = 3_600_000_000
    again = [f for e in events[-10:] for f in second.observe(e._replace(time_us=e.time_us + hour))]
    assert not [f for f in again if f.detector.startswith("first_seen")]


def test_state_written_before_tokens_is_converted_without_false_first_seen() -> None:
    tokens = StateTokens(b"state-key-0123456789abcdef")
    suite = DetectorSuite({}, {}, tokens)
    events = _personal_traffic(150, START_US)
    for facts in events:
        suite.observe(facts)
    user = events[0].user
    old = suite.users[user]["seen"]
    # As the previous release wrote it: the values themselves, no version mark.
    suite.users[user]["seen"] = {
        "n": old["n"], "tool": {e.tool: 1 for e in events}, "ip": {e.ip: 1 for e in events},
        "client": {e.client: 1 for e in events},
    }  # fmt: skip
    later = [f for facts in events[:20] for f in suite.observe(facts)]
    assert not [f for f in later if f.detector.startswith("first_seen")]
    assert "198.51.100.1" not in json.dumps(suite.users[user])
