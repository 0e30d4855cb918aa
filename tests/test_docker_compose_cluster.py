"""The cluster compose profile agrees with itself: one cluster name, distinct shards, Keeper.

No Docker daemon runs here, so nothing is started: the override merges with the main
file (docker-compose validates both), and the ClickHouse and Keeper configuration it
mounts is read as XML and checked against the compose services and the sink's settings.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from sinks.settings import SinkSettings
from tests.conftest import require_tool

ROOT = Path(__file__).parent.parent
MAIN, OVERRIDE = ROOT / "docker-compose.yml", ROOT / "docker-compose.cluster.yml"
CONFIG = ROOT / "deploy" / "clickhouse" / "cluster"
# Commands that never open the audit store (everything else runs its migrations).
STORELESS = {"topics", "processors", "siem"}


def _services(path: Path) -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(path.read_text())["services"]
    return services


def _xml(name: str) -> ET.Element:
    return ET.parse(CONFIG / name).getroot()


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> file under deploy/clickhouse/cluster/ the service mounts there."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./deploy/clickhouse/cluster/"):
            found[target] = source.removeprefix("./deploy/clickhouse/cluster/")
    return found


def _servers() -> dict[str, dict[str, Any]]:
    """The ClickHouse servers of the cluster profile: services mounting its cluster.xml."""
    return {
        name: service
        for name, service in _services(OVERRIDE).items()
        if _mounts(service).get("/etc/clickhouse-server/config.d/cluster.xml") == "cluster.xml"
    }


def _cluster() -> ET.Element:
    remote_servers = _xml("cluster.xml").find("remote_servers")
    assert remote_servers is not None
    clusters = list(remote_servers)
    assert len(clusters) == 1
    return clusters[0]


def test_the_override_merges_with_the_main_file() -> None:
    binary = require_tool("docker-compose")
    command = [binary, "-f", str(MAIN), "-f", str(OVERRIDE), "--profile", "cluster", "config", "-q"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_every_service_opening_the_store_names_the_cluster_of_remote_servers() -> None:
    override = _services(OVERRIDE)
    store_services = [
        name
        for name, service in _services(MAIN).items()
        if "build" in service and service["command"][0] not in STORELESS
    ]
    assert "sink" in store_services
    for name in store_services:
        environment = override.get(name, {}).get("environment", {})
        cluster = environment.get("MCP_AUDIT_SINK_CLUSTER")
        assert cluster == _cluster().tag, f"{name} runs single-node migrations"
        assert SinkSettings.load({"MCP_AUDIT_SINK_CLUSTER": cluster}).cluster == cluster


def test_each_shard_is_one_server_with_macros_of_its_own() -> None:
    servers = _servers()
    shards = _cluster().findall("shard")
    hosts = [str(shard.findtext("replica/host")) for shard in shards]
    assert sorted(hosts) == sorted(servers)  # every shard a service, every server a shard
    seen: dict[str, set[str]] = {"shard": set(), "replica": set()}
    for index, host in enumerate(hosts, start=1):
        mounts = _mounts(servers[host])
        macros = _xml(mounts["/etc/clickhouse-server/config.d/macros.xml"]).find("macros")
        assert macros is not None
        assert macros.findtext("cluster") == _cluster().tag
        assert macros.findtext("replica") == host
        assert int(str(macros.findtext("shard"))) == index
        for macro in seen:
            value = str(macros.findtext(macro))
            assert value not in seen[macro], f"{macro} {value} twice"
            seen[macro].add(value)
        assert mounts["/etc/clickhouse-server/users.d/cluster.xml"] == "users.xml"
    assert all(s.findtext("internal_replication") == "true" for s in shards)


def test_keeper_is_the_one_every_server_uses() -> None:
    keeper_services = {
        name
        for name, service in _services(OVERRIDE).items()
        if "clickhouse-keeper" in service.get("image", "")
    }
    assert len(keeper_services) == 1
    keeper = keeper_services.pop()
    server = _xml("keeper.xml").find("keeper_server")
    assert server is not None
    node = _xml("cluster.xml").find("zookeeper/node")
    assert node is not None
    assert node.findtext("host") == keeper
    assert node.findtext("port") == server.findtext("tcp_port")
    assert server.findtext("raft_configuration/server/hostname") == keeper
    assert _services(OVERRIDE)[keeper]["profiles"] == ["cluster"]
    for name, service in _servers().items():
        assert keeper in service["depends_on"], f"{name} starts without Keeper"


@pytest.mark.parametrize("server", sorted(_servers()))
def test_servers_share_the_secret_cluster_xml_reads(server: str) -> None:
    secret = _cluster().find("secret")
    assert secret is not None
    environment = _services(OVERRIDE)[server]["environment"]
    assert environment[secret.attrib["from_env"]]
    assert environment["CLICKHOUSE_DB"] == SinkSettings.load({}).database


def test_inserts_wait_for_the_shards_and_subqueries_span_the_cluster() -> None:
    profile = _xml("users.xml").find("profiles/default")
    assert profile is not None
    assert profile.findtext("distributed_foreground_insert") == "1"
    assert profile.findtext("distributed_product_mode") == "global"


def _merged_environment(name: str) -> dict[str, Any]:
    """A server's environment as compose merges the two files (override keys win)."""
    main = _services(MAIN).get(name, {}).get("environment") or {}
    return {**main, **(_services(OVERRIDE)[name].get("environment") or {})}


@pytest.mark.parametrize("server", sorted(_servers()))
def test_every_shard_makes_the_read_users_with_their_passwords(server: str) -> None:
    # The dashboard's and Grafana's reads of a Distributed table run on every shard as
    # their own user (the cluster's secret carries the initial user): each shard makes
    # them (initdb), and with a password, never an empty one.
    mounts = [
        v.split(":")[0]
        for name in (MAIN, OVERRIDE)
        for v in _services(name).get(server, {}).get("volumes", [])
    ]
    assert "./deploy/clickhouse/initdb" in mounts, f"{server} makes no read users"
    scripts = (ROOT / "deploy" / "clickhouse" / "initdb").glob("*.sh")
    read = set(re.findall(r"\$\{?([A-Z_]+)\}?", "".join(s.read_text() for s in scripts)))
    environment = _merged_environment(server)
    missing = sorted(v for v in read if not str(environment.get(v) or ""))
    assert not missing, f"{server}: the initdb scripts read unset {missing}"
