"""Parity: the production stack's services, read from docker-compose.yml, run as separate
processes on this machine, do everything ``mcp-audit up`` does.

Each service built from this repository runs its compose ``command`` through the
``mcp-audit`` CLI with its compose ``environment`` (anchors merged, ``${VAR:-default}``
expanded with the variables an operator sets: the SIEM webhook, its token, the origin
keys directory), its volumes as directories here, as many processes as
``deploy.replicas`` says. A service added, renamed or dropped, a command that does not
exist, or a variable a settings model refuses fails this test.

What compose runs that has no counterpart on this machine is swapped, and only that
(:data:`NOT_HERE`, :func:`swapped`):

* Apache Kafka with SASL and ACLs -> the embedded Tansu broker on loopback: the SASL
  variables are dropped (Tansu authenticates no one) and ``kafka:9092`` names it;
* the schema registry -> none: the registry URL is dropped (the contract's schemas are
  in this repository, as in the embedded mode);
* ClickHouse server -> chDB at a path. chDB admits one process per data directory where
  a server admits many, so the three services that share the store in compose (sink,
  sealer, dashboard) take turns on it here: the sealer runs while the sink is down
  (killed, or stopped at the end), the dashboard and ``verify`` after it. ``mcp-audit
  up`` shares chDB the other way, with all three as threads of its one process. Their
  running side by side over a server is not shown here;
* one network per container -> one host: the ports each process listens on (the
  processors' web port, the dashboard's published port, the embedded store's query
  endpoint) are free ports, and the SIEM forwarder trusts the webhook's self-signed
  certificate through ``SSL_CERT_FILE``.

Producers are MCP servers outside the stack: here ``mcp-server-time`` behind ``mcp-audit
proxy``, driven by the MCP SDK client, signing with the origin key the processors
demand. A tree head needs a period that closed a grace (5 min) ago; a test of minutes
gets one from a producer whose clock runs behind by more than a period and the grace
(the only clock faked here), its events taking the same path. Not run here: Docker,
Apache Kafka, the registry, a ClickHouse server, the stack's images.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pytest
import yaml
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp_audit.embedded.broker import EmbeddedBroker, free_port
from producers import runtime
from producers.actor import acting_as
from producers.decorator import audit_tool
from producers.event.sealer import Sealer
from readside.endpoint import port_answers
from readside.remote import endpoint_query
from readside.tokens import Tokens
from schemas.kafka import KafkaSettings
from sinks.digests import GRACE
from sinks.settings import SinkSettings
from tests.compose import COMPOSE, interpolate, services
from tests.conftest import child_env
from tests.producers.conftest import consume, producer_settings
from tests.sinks.kafka_helpers import wait_until
from tests.sinks.siem.loopback_siem import LoopbackSiem, self_signed_tls

pytestmark = [
    pytest.mark.slow, pytest.mark.broker, pytest.mark.clickhouse, pytest.mark.mcp,
    pytest.mark.timeout(600),
]  # fmt: skip

OURS = {"topics", "processors", "sink", "sealer", "siem", "dashboard"}
NOT_HERE = {"kafka", "kafka-acls", "schema-registry", "clickhouse", "grafana"}
NO_SASL_HERE = {
    "MCP_AUDIT_KAFKA_SECURITY_PROTOCOL", "MCP_AUDIT_KAFKA_SASL_MECHANISM",
    "MCP_AUDIT_KAFKA_SASL_USERNAME", "MCP_AUDIT_KAFKA_SASL_PASSWORD",
}  # fmt: skip
SIEM_TOKEN = "parity-siem-token"
CALLS_PER_PHASE, FAILURES_PER_PHASE = 8, 4
FAILURES = 12  # one user's 10 failures within a minute are an error burst
WAIT_S = 120.0
STORED = "SELECT toString(event_id) FROM audit_events WHERE event_type != 'AUDIT_ACCESS'"


@dataclass
class Stack:
    """The compose services as processes here; everything started is stopped at the end."""

    root: Path
    bootstrap: str
    variables: dict[str, str]
    store: str
    cert: Path
    siem: LoopbackSiem
    compose: dict[str, Any] = field(default_factory=services)
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def env(self, name: str) -> dict[str, str]:
        """The service's compose environment, swapped where this machine differs."""
        service = self.compose[name]
        mounts = self._mounts(service)
        out: dict[str, str] = {}
        for key, raw in (service.get("environment") or {}).items():
            value = interpolate(str(raw), self.variables)
            if key in NO_SASL_HERE:
                continue
            if key == "MCP_AUDIT_KAFKA_SCHEMA_REGISTRY_URL":
                assert "//schema-registry:" in value
                continue
            if key == "MCP_AUDIT_SINK_CLICKHOUSE_URL":
                assert "@clickhouse:8123" in value, f"{name}: {key} names no ClickHouse server"
                value = self.store
            value = value.replace("kafka:9092", self.bootstrap)
            for inside, here in mounts.items():
                if value == inside or value.startswith(inside + "/"):
                    value = here + value[len(inside) :]
            out[key] = value
        return out

    def _mounts(self, service: dict[str, Any]) -> dict[str, str]:
        """Container path -> directory here: a named volume is a directory of its own
        (shared by replicas, as in compose), a bind mount its expanded source."""
        named = set(yaml.safe_load(COMPOSE.read_text()).get("volumes") or {})
        found = {}
        for mount in service.get("volumes", []):
            source, inside = interpolate(str(mount), self.variables).split(":")[:2]
            if source in named:
                here = self.root / "volumes" / source
                here.mkdir(mode=0o700, parents=True, exist_ok=True)
            else:  # made by the fixture through its variable, never in the checkout
                here = COMPOSE.parent / source
                assert here.exists(), f"bind mount {source}: no variable for it in the fixture"
            found[inside] = str(here.resolve())
        return found

    def argv(self, name: str) -> list[str]:
        cli = shutil.which("mcp-audit", path=str(Path(sys.executable).parent))
        assert cli is not None, "the mcp-audit console script is installed with the package"
        return [cli, *self.compose[name]["command"]]

    def start(self, name: str, replica: int = 0, **extra: str) -> subprocess.Popen[bytes]:
        key = f"{name}-{replica}"
        cwd = self.root / "run" / key
        cwd.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_AUDIT_")}
        env.update(self.env(name), **extra)
        log = (self.root / f"{key}.log").open("ab")
        child = subprocess.Popen(
            self.argv(name), env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.running[key] = child
        return child

    def log(self, key: str) -> str:
        return (self.root / f"{key}.log").read_text(errors="replace")

    def stop(self, key: str, sig: signal.Signals = signal.SIGTERM) -> int:
        child = self.running.pop(key)
        child.send_signal(sig)
        return child.wait(60)

    def stop_all(self) -> None:
        for key in list(self.running):
            child = self.running.pop(key)
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(10)

    # -- the sink's side, seen from here -------------------------------------------------

    def start_sink(self) -> None:
        # chDB only: the embedded store's query endpoint, so that this test can read it.
        self.ports.setdefault("read", free_port())
        self.start("sink", MCP_AUDIT_READ_PORT=str(self.ports["read"]))
        assert wait_until(
            lambda: port_answers(self.ports["read"]) or self.running["sink-0"].poll() is not None,
            WAIT_S,
        )
        assert self.running["sink-0"].poll() is None, self.log("sink-0")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        tokens = self.root / "run" / "sink-0" / "mcp-audit-data" / "read-tokens.json"
        url = f"http://127.0.0.1:{self.ports['read']}"
        answer = endpoint_query(url, tokens, sql, required=True)
        assert answer is not None
        return answer[1]

    def stored_ids(self) -> list[str]:
        return [str(row[0]) for row in self.query(STORED)]

    def seal_once(self) -> str:
        """The sealer service until its first report, then stopped as compose stops it."""
        before = self.log("sealer-0") if (self.root / "sealer-0.log").exists() else ""
        child = self.start("sealer")
        assert wait_until(
            lambda: "appended" in self.log("sealer-0")[len(before) :] or child.poll() is not None,
            WAIT_S,
        ), self.log("sealer-0")
        assert self.stop("sealer-0") == 0, self.log("sealer-0")
        return self.log("sealer-0")[len(before) :]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    context, cert = self_signed_tls(tmp_path)
    siem = LoopbackSiem(tls=context)
    keys = tmp_path / "origin-keys"
    keys.mkdir(mode=0o700)
    (keys / "o1.key").write_text(secrets.token_hex(32))  # as the compose file's comment says
    processor_keys = tmp_path / "processor-keys"
    processor_keys.mkdir(mode=0o700)
    (processor_keys / "p1.key").write_text(secrets.token_hex(32))  # likewise
    with (
        EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log") as broker,
        siem.running(),
    ):
        variables = {
            "SIEM_WEBHOOK_URL": siem.url, "SIEM_TOKEN": SIEM_TOKEN, "ORIGIN_KEYS_DIR": str(keys),
            "PROCESSOR_KEYS_DIR": str(processor_keys),
        }  # fmt: skip
        made = Stack(tmp_path, broker.bootstrap_servers, variables,
                     f"chdb://{tmp_path / 'store'}", cert, siem)  # fmt: skip
        try:
            yield made
        finally:
            made.stop_all()


def _producer_env(stack: Stack, spool: str) -> dict[str, str]:
    """An MCP server's producer settings (producers live outside the stack)."""
    return child_env(
        KafkaSettings.load(environ=stack.env("topics")),
        MCP_AUDIT_PRODUCER_SERVER_ID="parity-time",
        MCP_AUDIT_PRODUCER_SPOOL_DIR=str(stack.root / "spool" / spool),
        MCP_AUDIT_PRODUCER_LINGER_MS="1",
        MCP_AUDIT_PRODUCER_ORIGIN_KEY_FILE=str(stack.root / "origin-keys" / "o1.key"),
        MCP_AUDIT_PRODUCER_ORIGIN_KEY_ID="o1",
    )


async def _through_proxy(stack: Stack, spool: str) -> None:
    """Calls to mcp-server-time through ``mcp-audit proxy``: some answered, a burst failing."""
    server = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    assert server is not None, "mcp-server-time is a test dependency"
    params = StdioServerParameters(
        command=stack.argv("topics")[0],
        args=["proxy", "--", server, "--local-timezone", "UTC"],
        env=_producer_env(stack, spool),
    )
    with (stack.root / f"time-server-{spool}.log").open("w") as errors:
        await _calls(params, errors)


async def _calls(params: StdioServerParameters, errors: TextIO) -> None:
    async with (
        stdio_client(params, errlog=errors) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await session.list_tools()
        for _ in range(CALLS_PER_PHASE):
            ok = await session.call_tool("get_current_time", {"timezone": "Europe/London"})
            assert not ok.is_error
        for n in range(FAILURES_PER_PHASE):
            bad = await session.call_tool("get_current_time", {"timezone": f"Nowhere/{n}"})
            assert bad.is_error


def _echo(n: int) -> int:
    return n


def _delete_records(table: str) -> None:
    raise PermissionError(f"{table}: denied")


@dataclass(frozen=True)
class _BehindClock:
    """``time`` for the producer's chain only: ``behind_s`` behind this machine's clock."""

    behind_s: int

    def time_ns(self) -> int:
        return time.time_ns() - self.behind_s * 1_000_000_000


def _late_producer(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library producer (``@audit_tool`` in an MCP server) whose clock is behind by more
    than a sealed period and the sealer's grace: the period its events fall in has
    closed, and gets a tree head. Its caller is a known user, failing again and again:
    detectors watch users, and a proxy knows none (it sees no identity on stdio)."""
    period_s = SinkSettings.load(environ=stack.env("sealer")).digest_period_s
    behind = _BehindClock(period_s + int(GRACE.total_seconds()) + 15 * 60)
    settings = producer_settings(
        stack.root / "late", origin_key_file=stack.root / "origin-keys" / "o1.key",
        origin_key_id="o1", server_id="parity-late",
    )  # fmt: skip
    # The compiled sealer reads the clock in C; the Python one (an install without a
    # compiler has it; the same bytes) reads it through producers.event.chain.time.
    monkeypatch.setattr("producers.auditor.Sealer", functools.partial(Sealer, native=False))
    monkeypatch.setattr("producers.event.chain.time", behind)
    kafka = KafkaSettings.load(environ={}, bootstrap_servers=stack.bootstrap)
    auditor = runtime.configure(settings, kafka)
    assert auditor is not None
    try:
        tool, denied = audit_tool(_echo), audit_tool(_delete_records)
        with acting_as(auditor.actor(user_id="mallory", client_id="parity-agent")):
            for n in range(5):
                assert tool(n) == n
            for _ in range(FAILURES):
                with pytest.raises(PermissionError):
                    denied("patients")
    finally:
        runtime.shutdown()
        monkeypatch.undo()


def _raw_ids(stack: Stack) -> set[str]:
    """Every event producers put on the raw topic: what the store must hold once each."""
    kafka = KafkaSettings.load(environ=stack.env("topics"))
    return {e["event_id"] for e in consume(kafka, 10**6, timeout_s=6, heartbeats=True)}


def _all_stored(stack: Stack, expected: set[str]) -> bool:
    try:
        return expected <= set(stack.stored_ids())
    except Exception:  # the sink restarting: ask again
        return False


def test_the_compose_stack_as_processes_does_what_up_does(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = {name for name, s in stack.compose.items() if "build" in s}
    assert built == OURS, "a service of ours is new or gone: run it here too"
    assert set(stack.compose) - built == NOT_HERE, "a service from an image is new or gone"
    started = time.monotonic()
    figures: dict[str, float] = {}

    topics = subprocess.run(
        stack.argv("topics"), env={**os.environ, **stack.env("topics")}, cwd=stack.root,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert topics.returncode == 0, topics.stderr
    replicas = int(stack.compose["processors"]["deploy"]["replicas"])
    assert replicas >= 2
    web = stack.env("processors").get("MCP_AUDIT_PROCESSORS_WEB_ENABLED") == "true"
    for replica in range(replicas):
        ports = {"MCP_AUDIT_PROCESSORS_WEB_PORT": str(free_port())} if web else {}
        stack.start("processors", replica, **ports)
    stack.start_sink()
    stack.start("siem", SSL_CERT_FILE=str(stack.cert))
    figures["started"] = time.monotonic() - started

    _late_producer(stack, monkeypatch)
    asyncio.run(_through_proxy(stack, "a"))
    # Mid-flow: something is stored, not yet everything. A worker and the sink die hard.
    assert wait_until(lambda: bool(stack.stored_ids()), WAIT_S), stack.log("processors-0")
    stack.stop("processors-0", signal.SIGKILL)
    stack.stop("sink-0", signal.SIGKILL)
    killed = time.monotonic()
    sealed_while_down = stack.seal_once()  # the store is free now (chDB: one process)
    stack.start_sink()
    stack.start("processors", 0, MCP_AUDIT_PROCESSORS_WEB_PORT=str(free_port()))
    asyncio.run(_through_proxy(stack, "b"))

    expected = _raw_ids(stack)
    assert wait_until(lambda: _all_stored(stack, expected), WAIT_S), (
        len(expected - set(stack.stored_ids())),
        stack.log("sink-0")[-3000:],
    )
    figures["recovered"] = time.monotonic() - killed
    stored = stack.stored_ids()
    assert len(stored) == len(set(stored)) == len(expected), "each event stored once"
    [[final_rows]] = stack.query(
        "SELECT count() FROM audit_events FINAL WHERE event_type != 'AUDIT_ACCESS'"
    )
    assert final_rows == len(expected)

    siem = stack.siem

    def burst_forwarded() -> bool:
        codes = {d.get("metadata", {}).get("event_code") for d in siem.accepted()}
        return "error_burst" in codes

    assert wait_until(burst_forwarded, WAIT_S), stack.log("siem-0")[-3000:]
    assert all(r.headers.get("Authorization") == f"Bearer {SIEM_TOKEN}" for r in siem.requests)
    stored_alerts = "SELECT count() FROM audit_alerts WHERE detector = 'error_burst'"
    assert wait_until(lambda: stack.query(stored_alerts)[0][0] >= 1, WAIT_S)

    for key in ("sink-0", "siem-0", *(f"processors-{i}" for i in range(replicas))):
        assert stack.stop(key) == 0, stack.log(key)[-3000:]
    sealed_at_end = stack.seal_once()
    heads = sum(
        int(n) for n in re.findall(r"signed (\d+) tree heads", sealed_while_down + sealed_at_end)
    )
    assert heads >= 1, sealed_while_down + sealed_at_end

    port = free_port()
    dashboard = stack.start("dashboard", MCP_AUDIT_PLATFORM_DASHBOARD_PORT=str(port))
    assert wait_until(lambda: port_answers(port) or dashboard.poll() is not None, WAIT_S)
    token_file = Path(stack.env("dashboard")["MCP_AUDIT_READ_TOKEN_FILE"])
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/page?hours=24",
        headers={"Authorization": f"Bearer {Tokens(token_file).own_token()}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        page = json.load(response)
    assert page["summary"]["calls"] >= 2 * (CALLS_PER_PHASE + FAILURES_PER_PHASE)
    assert page["alerts"]
    assert stack.stop("dashboard-0") == 0, stack.log("dashboard-0")

    verify = subprocess.run(
        [stack.argv("sealer")[0], "verify"], env={**os.environ, **stack.env("sealer")},
        cwd=stack.root, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert re.search(r"^[1-9]\d* signed tree heads", verify.stdout, re.MULTILINE), verify.stdout
    figures["total"] = time.monotonic() - started
    print(
        f"\nparity: {len(expected)} events stored once each through {replicas} processor"
        f" workers; {len(siem.accepted())} alerts forwarded; {heads} tree heads signed;"
        f" started in {figures['started']:.0f} s, every event stored"
        f" {figures['recovered']:.0f} s after the kills, {figures['total']:.0f} s in all"
    )
