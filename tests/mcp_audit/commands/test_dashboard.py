"""``mcp-audit dashboard`` as compose runs it: a process of its own, bound to every interface
of its (here: this machine's) network only when told, with every door still checked."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcp_audit.embedded.broker import free_port
from readside.endpoint import port_answers
from readside.tokens import Tokens
from tests.sinks.kafka_helpers import wait_until

CLI = [sys.executable, "-m", "mcp_audit.cli"]


def _env(tmp_path: Path, port: int, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_AUDIT_")}
    env.update(
        MCP_AUDIT_SINK_CLICKHOUSE_URL=f"chdb://{tmp_path / 'store'}",
        MCP_AUDIT_SINK_DATABASE="dashboard_test",
        MCP_AUDIT_PLATFORM_DASHBOARD_PORT=str(port),
        MCP_AUDIT_READ_TOKEN_FILE=str(tmp_path / "tokens.json"),
        **variables,
    )
    return env


def test_every_interface_without_the_setting_is_refused_before_the_store_is_opened(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path, free_port(), MCP_AUDIT_PLATFORM_DASHBOARD_HOST="0.0.0.0")
    done = subprocess.run([*CLI, "dashboard"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "loopback only" in done.stderr and "MCP_AUDIT_READ_CONTAINER_BIND" in done.stderr
    assert not (tmp_path / "store").exists()  # nothing opened, nothing created
    assert not (tmp_path / "tokens.json").exists()


def test_one_address_of_the_host_is_refused_even_with_the_setting(tmp_path: Path) -> None:
    env = _env(
        tmp_path, free_port(), MCP_AUDIT_PLATFORM_DASHBOARD_HOST="192.0.2.10",
        MCP_AUDIT_READ_CONTAINER_BIND="true",
    )  # fmt: skip
    done = subprocess.run([*CLI, "dashboard"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not to one address of this host" in done.stderr


@dataclass
class Served:
    port: int
    token: str
    child: subprocess.Popen[bytes]
    env: dict[str, str]

    def stop(self) -> int:
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
        return self.child.wait(30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The command on an embedded store, on 0.0.0.0 with the container setting."""
    port = free_port()
    env = _env(
        tmp_path, port, MCP_AUDIT_PLATFORM_DASHBOARD_HOST="0.0.0.0",
        MCP_AUDIT_READ_CONTAINER_BIND="true",
    )  # fmt: skip
    with (tmp_path / "dashboard.log").open("w") as log:
        child = subprocess.Popen([*CLI, "dashboard"], env=env, stdout=log, stderr=log)
    running = Served(port, "", child, env)
    try:
        assert wait_until(lambda: port_answers(port) or child.poll() is not None, 90)
        assert child.poll() is None, (tmp_path / "dashboard.log").read_text()
        running.token = Tokens(tmp_path / "tokens.json").own_token()
        yield running
    finally:
        running.stop()


def _get(port: int, path: str, **headers: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}", **headers})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.clickhouse
@pytest.mark.slow
def test_bound_to_every_interface_the_doors_still_hold(served: Served, tmp_path: Path) -> None:
    port, token = served.port, served.token
    bearer = {"Authorization": f"Bearer {token}"}
    assert _get(port, "/api/page?hours=1")[0] == 401  # no token
    assert _get(port, "/api/page?hours=1", Authorization="Bearer not-a-token")[0] == 401
    # The container's address, a rebinding name: not the Host a published port carries.
    for host in ("172.18.0.5:8321", f"dashboard:{port}", f"rebound.example:{port}"):
        status, body = _get(port, "/api/page?hours=1", **bearer, Host=host)
        assert status == 403 and token.encode() not in body
    status, _ = _get(port, "/api/page?hours=1", **bearer, Origin="http://attacker.example")
    assert status == 403
    status, body = _get(port, "/api/page?hours=1", **bearer)
    assert status == 200, body
    assert set(json.loads(body)) >= {"summary", "alerts"}
    assert _get(port, "/", Host=f"localhost:{port}")[0] == 200
    assert served.stop() == 0  # SIGTERM: a clean stop, as compose stops a service

    # What the store recorded: the refused token requests and the page, nothing else.
    sql = ("SELECT status, attributes['action'] FROM audit_events"
           " WHERE event_type = 'AUDIT_ACCESS' AND attributes['via'] = 'dashboard'"
           " ORDER BY seq")  # fmt: skip
    found = subprocess.run(
        [*CLI, "query", "--format", "csv", sql],
        env={**served.env, "MCP_AUDIT_READ_PORT": "0"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    rows = found.stdout.splitlines()[1:]
    assert rows == ["DENIED,dashboard-page", "DENIED,dashboard-page", "SUCCESS,dashboard-page"]
