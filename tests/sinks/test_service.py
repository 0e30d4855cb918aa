"""The sink as people run it: waits for ClickHouse, runs as `mcp-audit sink`, stops on SIGTERM,
and survives being killed mid-batch and its storage refusing writes (issue 7's sink faults)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import clickhouse_connect
import pytest

from mcp_audit.embedded.broker import free_port
from schemas.kafka import KafkaSettings
from sinks.service import run_restarting, wait_for_store
from sinks.settings import SinkSettings
from sinks.writer import SCRATCH
from tests.conftest import child_env, require_tool
from tests.sinks.helpers import ENCODE_ENRICHED, varied_event
from tests.sinks.kafka_helpers import committed, produce, producing, wait_until


def sink_env(kafka: KafkaSettings, store: Path, **sink: str) -> dict[str, str]:
    """The environment of an `mcp-audit sink` child (see :func:`child_env`) on ``store``.

    A child has its own process, so its own chDB directory is allowed (one per process).
    """
    return child_env(
        kafka,
        MCP_AUDIT_SINK_CLICKHOUSE_URL=f"chdb://{store}",
        MCP_AUDIT_SINK_CONSUMER_GROUP=f"cmd-{uuid.uuid4().hex[:6]}",
        # Short, so the test broker forms the group (and drops a killed member) in seconds.
        MCP_AUDIT_SINK_SESSION_TIMEOUT_MS="6000",
        **{f"MCP_AUDIT_SINK_{k.upper()}": v for k, v in sink.items()},
    )


@contextmanager
def sink_command(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`mcp-audit -v sink` as a child; killed on exit if still running, also on failure."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mcp_audit.cli", "-v", "sink"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(30)


def stored(kafka: KafkaSettings, env: dict[str, str]) -> int:
    """Messages of the enriched topic the sink committed: stored, by its contract."""
    group = env["MCP_AUDIT_SINK_CONSUMER_GROUP"]
    return sum(max(0, o) for o in committed(kafka, group, kafka.topic_enriched).values())


def terminate(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(30)


def serving_queries(env: dict[str, str], port: int, tokens: Path) -> dict[str, str]:
    """``env`` for a sink command that also serves the query endpoint on ``port``."""
    return {**env, "MCP_AUDIT_READ_PORT": str(port), "MCP_AUDIT_READ_TOKEN_FILE": str(tokens)}


def stored_ids(query_port: int, tokens: Path) -> tuple[Counter[str], int]:
    """Rows per event id with FINAL (right before merges), and rows without it.

    Read through the running sink's query endpoint with the token it wrote, as people
    read while the sink owns the store; the endpoint's own AUDIT_ACCESS rows are left out.
    """
    token = next(iter(json.loads(tokens.read_text()).values()))
    client = clickhouse_connect.get_client(host="127.0.0.1", port=query_port, password=token)
    try:
        per_id = client.query(
            "SELECT toString(event_id), count() FROM audit_events FINAL"
            " WHERE event_type != 'AUDIT_ACCESS' GROUP BY event_id"
        ).result_rows
        physical = client.query(
            "SELECT count() FROM audit_events WHERE event_type != 'AUDIT_ACCESS'"
        ).result_rows[0][0]
    finally:
        client.close()
    return Counter({event_id: int(rows) for event_id, rows in per_id}), int(physical)


@contextmanager
def unwritable(directories: list[Path]) -> Iterator[None]:
    """Nothing can be created, renamed or removed in ``directories`` until exit.

    chmod binds everyone but root; as root (CI) the immutable attribute does.
    """
    if os.geteuid() == 0:
        chattr = require_tool("chattr")
        try:
            subprocess.run([chattr, "+i", *directories], check=True)
            yield
        finally:
            subprocess.run([chattr, "-i", *directories], check=True)
    else:
        modes = {directory: directory.stat().st_mode for directory in directories}
        try:
            for directory in directories:
                directory.chmod(0o500)
            yield
        finally:
            for directory, mode in modes.items():
                directory.chmod(mode)


def test_waits_for_an_unreachable_clickhouse_until_stopped() -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = SinkSettings.load(
        environ={}, clickhouse_url=closed, retry_initial_seconds=0.05, retry_max_seconds=0.1
    )
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    started = time.monotonic()

    assert wait_for_store(settings, stop) is None
    assert 0.9 < time.monotonic() - started < 10
    timer.cancel()


@pytest.mark.broker
@pytest.mark.slow
def test_sink_command_stores_commits_and_stops_on_sigterm(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    env = sink_env(kafka_settings, tmp_path / "store", BATCH_SECONDS="0.2")
    produce(
        kafka_settings,
        kafka_settings.topic_enriched,
        [ENCODE_ENRICHED(varied_event(i)) for i in range(300)],
    )
    with sink_command(env, tmp_path / "sink.log") as process:
        assert wait_until(lambda: stored(kafka_settings, env) == 300, 60)
        assert terminate(process) == 0


@pytest.mark.broker
@pytest.mark.clickhouse
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sink_killed_mid_batch_then_restarted_stores_every_event_once(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """SIGKILL lands while ClickHouse inserts a batch: its Avro files are in the scratch
    directory, and the batches before it are committed. A new sink on the same chDB
    directory must store every event exactly once. Real: the command, chDB, the broker."""
    total, batch = 30_000, 5_000
    events = [varied_event(i) for i in range(total)]
    produce(kafka_settings, kafka_settings.topic_enriched, [ENCODE_ENRICHED(e) for e in events])
    port = free_port()
    store = tmp_path / "store"
    tokens = tmp_path / "tokens.json"
    env = serving_queries(
        sink_env(kafka_settings, store, BATCH_ROWS=str(batch), PARSE_FILES="2"), port, tokens
    )

    with sink_command(env, tmp_path / "killed.log") as killed:
        # N_K.avro is file K of the writer's Nth insert (one a batch here: no alerts, no
        # queries; two files a batch); ClickHouse starts reading once the last is written.
        # The loop commits batch N-1 before it hands batch N to the writer.
        in_flight = "*/[2-9]_1.avro"
        deadline = time.monotonic() + 60
        while not any(store.joinpath(SCRATCH).glob(in_flight)):
            assert time.monotonic() < deadline and killed.poll() is None, "no third batch"
            time.sleep(0.002)
        time.sleep(0.02)  # into the insert, which takes hundreds of ms for 5,000 rows
        killed.kill()
        killed.wait(30)  # chDB's lock on the directory goes with the process
    left = list(store.joinpath(SCRATCH).glob("*/*.avro"))
    at_kill = stored(kafka_settings, env)
    assert left, "the kill did not land mid-insert"
    assert 0 < at_kill < total

    restarted_at = time.monotonic()
    with sink_command(env, tmp_path / "restarted.log") as restarted:
        assert wait_until(lambda: stored(kafka_settings, env) == total, 90)
        recovered_s = time.monotonic() - restarted_at
        per_id, physical = stored_ids(port, tokens)
        assert terminate(restarted) == 0

    print(
        f"killed with {at_kill} of {total} committed and {len(left)} files in flight;"
        f" restarted sink stored the rest in {recovered_s:.1f} s;"
        f" {physical} rows before merges, {sum(per_id.values())} with FINAL"
    )
    assert set(per_id) == {e["event"]["event_id"] for e in events}
    assert set(per_id.values()) == {1}
    assert not any(path.exists() for path in left)  # the dead sink's scratch is cleared


@pytest.mark.broker
@pytest.mark.clickhouse
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_storage_unwritable_for_30s_while_events_keep_coming(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """chDB's table directories refuse every new file for 30 s (as a full disk or a
    read-only remount would; chDB cannot take an insert without creating a part) while
    events keep arriving at 250/s. Real: the command, chDB failing the insert with its own
    filesystem error, the broker. Only the storage fails: the sink's scratch files, beside
    the tables, can still be written. The sink must keep its process, retry with backoff,
    commit nothing while it cannot store, and resume by itself: each event stored once."""
    port, store, retry_max = free_port(), tmp_path / "store", 4.0
    tokens = tmp_path / "tokens.json"
    env = serving_queries(
        sink_env(kafka_settings, store, RETRY_MAX_SECONDS=str(retry_max)), port, tokens
    )
    sent: list[str] = []

    def event(index: int) -> bytes:
        record = varied_event(index)
        sent.append(record["event"]["event_id"])
        return ENCODE_ENRICHED(record)

    log_path = tmp_path / "sink.log"
    with sink_command(env, log_path) as sink:
        with producing(kafka_settings, kafka_settings.topic_enriched, event, 250):
            assert wait_until(lambda: stored(kafka_settings, env) > 0, 60)
            tables = sorted(path for path in store.joinpath("store").glob("*/*") if path.is_dir())
            with unwritable(tables):
                began, sent_before, held = time.monotonic(), len(sent), []
                while time.monotonic() - began < 30:
                    assert sink.poll() is None, "the sink exited while storage was unwritable"
                    if time.monotonic() - began > 5:  # a batch inserting at the start may end
                        held.append(stored(kafka_settings, env))
                    time.sleep(1)
                sent_during = len(sent) - sent_before
                outage_log = log_path.read_text(errors="replace")
            restored = time.monotonic()
            assert wait_until(lambda: stored(kafka_settings, env) > held[-1], 30)
            resumed_s = time.monotonic() - restored
            time.sleep(3)  # and events keep coming after it
        assert wait_until(lambda: stored(kafka_settings, env) == len(sent), 60)
        drained_s = time.monotonic() - restored
        per_id, physical = stored_ids(port, tokens)
        assert terminate(sink) == 0

    retry = re.compile(r"ClickHouse unavailable, retrying in ([\d.]+)s")
    waits = [float(wait) for wait in retry.findall(outage_log)]
    print(
        f"{len(sent)} events sent, {sent_during} during the outage; {len(waits)} retries"
        f" {waits}; resumed {resumed_s:.1f} s after, all stored {drained_s:.1f} s after;"
        f" {physical} rows before merges, {sum(per_id.values())} with FINAL"
    )
    assert sent_during > 0 and len(set(held)) == 1, f"offsets moved while unwritable: {held}"
    assert 3 <= len(waits) <= 15 and waits == sorted(waits) and waits[-1] == retry_max
    assert set(per_id) == set(sent)
    assert set(per_id.values()) == {1}


def test_a_failing_sink_restarts_after_doubling_waits_until_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there: each start fails
    settings = SinkSettings.load(environ={}, clickhouse_url=closed)
    kafka = KafkaSettings.load(environ={}, bootstrap_servers=f"127.0.0.1:{free_port()}")
    stop = threading.Event()
    timer = threading.Timer(2.0, stop.set)
    timer.start()
    with caplog.at_level(logging.ERROR, "sinks.service"):
        run_restarting(settings, kafka, stop)
    timer.cancel()
    waits = [r.getMessage() for r in caplog.records]
    assert waits[:2] == [
        "the sink failed; restarting in 0.5 s",
        "the sink failed; restarting in 1.0 s",
    ]
    assert len(waits) <= 3  # 0.5 + 1 + 2: never a tight loop
