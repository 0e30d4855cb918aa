"""The production stack's compose file is valid and speaks the embedded mode's settings."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from mcp_audit.cli import build_parser
from mcp_audit.config import settings_for
from sinks.cluster import LOCAL_SUFFIX
from tests.compose import COMPOSE, default, services
from tests.conftest import require_tool


def test_compose_file_validates() -> None:
    binary = require_tool("docker-compose")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("service", sorted(services()))
def test_service_settings_are_known(service: str) -> None:
    environment = services()[service].get("environment") or {}
    ours = {k: default(str(v)) for k, v in environment.items() if k.startswith("MCP_AUDIT_")}
    for variable in ours:
        model = settings_for(variable)
        assert model is not None, f"{service}: {variable} belongs to no settings model"
        prefix = str(model.model_config["env_prefix"])
        model.load(environ={k: v for k, v in ours.items() if k.startswith(prefix)})


def test_services_built_from_this_repo_run_real_subcommands() -> None:
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for name, service in services().items():
        if "build" in service:
            assert service["command"][0] in commands, f"{name}: no such subcommand"


def test_grafana_reads_clickhouse_as_a_select_only_user() -> None:
    # No ClickHouse server runs here and chDB refuses access management (CREATE USER:
    # ACCESS_DENIED), so the statements are checked as written, and bash parses the script.
    root = COMPOSE.parent
    datasource = yaml.safe_load(
        (root / "deploy/grafana/provisioning/datasources/clickhouse.yaml").read_text()
    )["datasources"][0]
    user = datasource["jsonData"]["username"]
    writer = default(services()["sink"]["environment"]["MCP_AUDIT_SINK_CLICKHOUSE_URL"])
    assert f"//{user}:" not in writer
    mounts = services()["clickhouse"]["volumes"]
    [initdb] = [m for m in mounts if m.endswith(":/docker-entrypoint-initdb.d:ro")]
    script = (root / initdb.split(":")[0]).resolve() / "10-grafana-reader.sh"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    statements = re.findall(r"^(CREATE USER|GRANT) .*$", script.read_text(), re.MULTILINE)
    assert statements == ["CREATE USER", "GRANT"]
    assert f"CREATE USER IF NOT EXISTS {user} IDENTIFIED" in script.read_text()
    grants = re.findall(r"^GRANT (.*) ON (.*) TO (\w+);$", script.read_text(), re.MULTILINE)
    assert grants == [("SELECT", "${CLICKHOUSE_DB}.*", user)]
    assert services()["clickhouse"]["environment"]["CLICKHOUSE_DB"] == "mcp_audit"


def test_the_stack_seals_with_a_key_volume_of_its_own() -> None:
    stack = services()
    sealer = stack["sealer"]
    assert sealer["command"] == ["digest", "--every"]
    key_dir = sealer["environment"]["MCP_AUDIT_SINK_SIGNING_KEY_DIR"]
    [mount] = [m for m in sealer["volumes"] if m.endswith(f":{key_dir}")]
    volume = mount.split(":")[0]
    assert volume in yaml.safe_load(COMPOSE.read_text())["volumes"]  # named: it persists
    for name, service in stack.items():
        if name != "sealer":
            assert all(not str(m).startswith(f"{volume}:") for m in service.get("volumes", []))
    store_volume = stack["clickhouse"]["volumes"][0].split(":")[0]
    assert volume != store_volume


def test_clickhouse_may_lower_the_sealers_priority() -> None:
    """The sealer's queries ask for nice 19 (sinks.leaf_sql.LOW_PRIORITY); a server
    without SYS_NICE ignores that, and the sealer takes CPU from the sink's inserts."""
    assert "SYS_NICE" in services()["clickhouse"].get("cap_add", [])


def _kafka_env() -> dict[str, str]:
    return {k: str(v) for k, v in services()["kafka"]["environment"].items()}


def test_the_broker_authenticates_every_client_and_allows_only_what_an_acl_says() -> None:
    # No Docker engine here: the broker's configuration is checked as written.
    env = _kafka_env()
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = [item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")]
    for listener in listeners:
        if listener != env["KAFKA_CONTROLLER_LISTENER_NAMES"]:
            assert protocols[listener].startswith("SASL_"), f"{listener} takes anyone"
    assert env["KAFKA_ADVERTISED_LISTENERS"].startswith("CLIENT://")
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert all(p.startswith("127.0.0.1:") for p in services()["kafka"]["ports"])
    assert "9093" not in " ".join(services()["kafka"]["ports"])  # the controller stays inside
    users = set(
        re.findall(r"user_(\w+)=", env["KAFKA_LISTENER_NAME_CLIENT_PLAIN_SASL_JAAS_CONFIG"])
    )
    assert users == {"admin", "producer", "processors", "sink", "sealer", "siem", "registry"}


def test_each_part_signs_in_as_its_own_user() -> None:
    seen = {}
    for name, service in services().items():
        environment = service.get("environment") or {}
        if "build" in service and name != "dashboard":  # it reads the store, not the broker
            assert environment["MCP_AUDIT_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
            seen[name] = environment["MCP_AUDIT_KAFKA_SASL_USERNAME"]
    assert not any(k.startswith("MCP_AUDIT_KAFKA_") for k in services()["dashboard"]["environment"])
    assert seen == {
        "topics": "admin", "processors": "processors", "sink": "sink", "sealer": "sealer",
        "siem": "siem",
    }  # fmt: skip


def _acls() -> dict[str, list[tuple[list[str], list[str]]]]:
    """principal -> [(operations, resources)], as deploy/kafka/acls.sh grants them."""
    script = (COMPOSE.parent / "deploy/kafka/acls.sh").read_text()
    grants: dict[str, list[tuple[list[str], list[str]]]] = {}
    for principal, rest in re.findall(r"^allow (\w+) (.*)$", script, re.MULTILINE):
        operations = re.findall(r"--operation (\w+)", rest)
        resources = re.findall(r"--(topic|group|cluster)(?: \"?([^\" ]+)\"?)?", rest)
        grants.setdefault(principal, []).append((operations, [f"{k}:{v}" for k, v in resources]))
    return grants


def test_producers_may_only_write_the_raw_topic() -> None:
    subprocess.run(["bash", "-n", str(COMPOSE.parent / "deploy/kafka/acls.sh")], check=True)
    acls = _acls()
    assert acls["producer"] == [(["Write", "Describe"], ["topic:$raw"])]
    assert (
        "raw=${MCP_AUDIT_KAFKA_TOPIC_RAW:-mcp-audit.events.raw}"
        in (COMPOSE.parent / "deploy/kafka/acls.sh").read_text()
    )
    writers_of_enriched = {
        p for p, grants in acls.items() for ops, res in grants
        if "topic:$enriched" in res and ({"Write", "All"} & set(ops))
    }  # fmt: skip
    assert writers_of_enriched == {"processors"}
    acls_service = services()["kafka-acls"]
    assert acls_service["entrypoint"] == ["/bin/bash", "/acls.sh"]
    assert services()["topics"]["depends_on"] == {
        "kafka-acls": {"condition": "service_completed_successfully"}
    }


def test_processors_refuse_what_no_mounted_origin_key_vouches_for() -> None:
    processors = services()["processors"]
    keys = processors["environment"]["MCP_AUDIT_PROCESSORS_ORIGIN_KEYS_DIR"]
    assert any(m.endswith(f":{keys}:ro") for m in processors["volumes"])


def test_the_sink_stores_only_what_the_processors_key_vouches_for() -> None:
    processors, sink = services()["processors"], services()["sink"]
    key_file = Path(processors["environment"]["MCP_AUDIT_PROCESSORS_KEY_FILE"])
    keys = sink["environment"]["MCP_AUDIT_SINK_PROCESSOR_KEYS_DIR"]
    assert str(key_file.parent) == keys  # the sink holds the key the processors sign with
    for service in (processors, sink):
        assert any(m.endswith(f":{keys}:ro") for m in service["volumes"])
    mounts = {m.split(":")[0] for s in (processors, sink) for m in s["volumes"] if keys in m}
    assert len(mounts) == 1  # one key directory, mounted into both


def test_image_copies_every_package_and_the_build_files() -> None:
    """The image is built with ``pip install`` from copied sources: a package or build file
    left out (readside/ and setup.py once were) installs an image that fails at its first
    import, which no compose validation can see."""
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    copied = {
        part.rstrip("/").removeprefix("./")
        for line in dockerfile.splitlines()
        if line.startswith("COPY ")
        for part in line.split()[1:-1]
    }
    project = tomllib.loads((COMPOSE.parent / "pyproject.toml").read_text())
    packages = set(project["tool"]["mypy"]["packages"])
    assert packages <= copied, sorted(packages - copied)
    assert {"pyproject.toml", "setup.py", "MANIFEST.in"} <= copied


def test_the_dashboard_reads_as_its_own_user_on_a_port_published_on_loopback_only() -> None:
    dashboard, clickhouse = services()["dashboard"], services()["clickhouse"]
    env = {k: default(str(v)) for k, v in dashboard["environment"].items()}
    assert dashboard["command"] == ["dashboard"]
    assert env["MCP_AUDIT_SINK_CLICKHOUSE_URL"].startswith("http://dashboard:")
    port = env["MCP_AUDIT_PLATFORM_DASHBOARD_PORT"]
    # Published on the host's loopback under the same number: the Host check expects it.
    assert dashboard["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert env["MCP_AUDIT_READ_CONTAINER_BIND"] == "true"
    assert env["MCP_AUDIT_PLATFORM_DASHBOARD_HOST"] == "0.0.0.0"
    [tokens] = dashboard["volumes"]
    assert env["MCP_AUDIT_READ_TOKEN_FILE"].startswith(tokens.split(":")[1] + "/")
    script = (COMPOSE.parent / "deploy/clickhouse/initdb/30-dashboard.sh").read_text()
    subprocess.run(["bash", "-n", str(COMPOSE.parent / "deploy/clickhouse/initdb/30-dashboard.sh")],
                   check=True, timeout=30)  # fmt: skip
    grants = re.findall(r"^GRANT (.*) ON (.*) TO (\w+);$", script, re.MULTILINE)
    local = f"${{CLICKHOUSE_DB}}.audit_events{LOCAL_SUFFIX}"  # cluster mode's shards
    assert grants == [("SELECT", "${CLICKHOUSE_DB}.*", "dashboard"),
                      ("INSERT", "${CLICKHOUSE_DB}.audit_events", "dashboard"),
                      ("INSERT", local, "dashboard")]  # fmt: skip
    assert "DASHBOARD_CLICKHOUSE_PASSWORD" in clickhouse["environment"]
    assert "allow_ddl = 0 CONST" in script
