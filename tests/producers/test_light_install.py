"""The producer-only install (issue 18): what an MCP server developer installs.

The fast tests check the import path in this environment; the ``wheel`` tests build the
wheel, install it (not editable) into a fresh venv without its dependencies and check
what it declares, what that pulls and weighs (sized from this environment's installed
metadata, so no network), and its import from the wheel: ``pytest -m wheel``.
bench/bench_light_install.py does the same with a real install from the index.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from bench.light_install import (
    HEAVY_DISTRIBUTIONS,
    IMPORT_BAR_S,
    IMPORT_TIME_DEFERRED,
    PLATFORM_MODULES,
    SIZE_BAR_BYTES,
    base_requirements,
    build_wheel,
    closure,
    fresh_venv,
    startup_times,
    tree_bytes,
)

LOADED = "import sys, json; print(json.dumps(sorted(sys.modules)))"


def _modules_after(python: Path | str, statement: str) -> set[str]:
    out = subprocess.run(
        [str(python), "-I", "-c", f"{statement}\n{LOADED}"],
        check=True, capture_output=True, text=True, cwd="/",
    ).stdout  # fmt: skip
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}


def test_importing_the_decorator_and_api_loads_no_platform_module_and_defers_settings() -> None:
    loaded = _modules_after(sys.executable, "import producers.decorator, producers.api")
    assert not loaded & {*PLATFORM_MODULES, *IMPORT_TIME_DEFERRED}


def test_the_producers_whole_call_path_and_the_stdio_proxy_load_no_platform_module() -> None:
    statement = (
        "import producers.runtime, producers.auditor, producers.transport.publisher,"
        " producers.event.sealer, producers.integrations.proxy_stdio, producers.settings\n"
        "producers.runtime.configure(producers.settings.ProducerSettings(enabled=False))"
    )
    assert not _modules_after(sys.executable, statement) & set(PLATFORM_MODULES)


@dataclass(frozen=True)
class LightVenv:
    wheel: Path
    python: Path
    bare_bytes: int
    installed_bytes: int


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LightVenv]:
    root = tmp_path_factory.mktemp("light")
    wheel = build_wheel(root / "dist")
    python = fresh_venv(root / "venv", with_pip=False)
    bare = tree_bytes(root / "venv")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    installed = tree_bytes(root / "venv") - bare
    # The declared dependencies, and only they, from this environment: each one's
    # top-level files linked into one directory that a .pth line puts on the path.
    deps = root / "deps"
    deps.mkdir()
    for name in closure(base_requirements(wheel)):
        for file in distribution(name).files or []:
            top = file.parts[0]
            if top not in ("..", "bin") and not (deps / top).exists():
                site_dir = Path(str(file.locate())).parents[len(file.parts) - 1]
                (deps / top).symlink_to(site_dir / top)
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz_dependencies.pth").write_text(f"{deps}\n")
    yield LightVenv(wheel, python, bare, installed)


@pytest.mark.wheel
@pytest.mark.slow
def test_the_wheel_requires_nothing_heavy_and_weighs_under_40_mb(light_venv: LightVenv) -> None:
    requirements = base_requirements(light_venv.wheel)
    assert {canonicalize_name(r.name) for r in requirements} >= {"confluent-kafka", "pydantic"}
    pulled = closure(requirements)
    assert not set(pulled) & HEAVY_DISTRIBUTIONS
    assert not set(pulled) & {"fastavro", "cryptography", "aiohttp", "fastmcp", "mcp"}
    total = light_venv.installed_bytes + sum(pulled.values())
    assert total <= SIZE_BAR_BYTES, f"{total / 1e6:.1f} MB: {pulled}"


@pytest.mark.wheel
@pytest.mark.slow
def test_the_installed_wheel_audits_from_its_own_files_with_the_compiled_sealer(
    light_venv: LightVenv,
) -> None:
    from producers.event.sealer import NATIVE  # built here, so built into the wheel too

    statement = (
        "import producers, producers.decorator, producers.event.sealer as s,"
        " schemas.registry as r\n"
        f"assert s.NATIVE is {NATIVE}, 'the wheel and this build disagree on the sealer'\n"
        "assert r.current('AuditEvent').fingerprint == r.avsc.fingerprint("
        "r.current('AuditEvent').schema)\n"
        "print(producers.__file__)"
    )
    out = subprocess.run(
        [str(light_venv.python), "-I", "-c", statement],
        check=True, capture_output=True, text=True, cwd="/",
    ).stdout  # fmt: skip
    assert out.startswith(str(light_venv.python.parent.parent))
    loaded = _modules_after(light_venv.python, "import producers.decorator, producers.event.sealer")
    assert not loaded & set(PLATFORM_MODULES)


@pytest.mark.wheel
@pytest.mark.slow
def test_the_installed_proxy_command_runs_and_platform_commands_say_what_to_install(
    light_venv: LightVenv,
) -> None:
    cli = [str(light_venv.python), "-I", "-m", "mcp_audit.cli"]
    proxy = subprocess.run([*cli, "proxy", "--help"], capture_output=True, text=True, cwd="/")
    assert proxy.returncode == 0, proxy.stderr
    for refused in (["up"], ["sink", "--help"]):
        run = subprocess.run([*cli, *refused], capture_output=True, text=True, cwd="/")
        assert run.returncode == 2, run.stderr
        assert "mcp-audit[all]" in run.stderr


@pytest.mark.wheel
@pytest.mark.slow
def test_the_installed_decorator_imports_within_120_ms_of_a_bare_python(
    light_venv: LightVenv,
) -> None:
    times = startup_times(light_venv.python, "import producers.decorator")
    assert times.added_cpu <= IMPORT_BAR_S, str(times)


@pytest.mark.wheel
@pytest.mark.slow
def test_the_installed_proxy_audits_a_call_that_the_platform_reads_back(
    light_venv: LightVenv, tmp_path: Path
) -> None:
    from producers.transport.spool import read_segment
    from schemas.wire import Deserializer

    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "echo", "arguments": {"x": 1}}},
    ]  # fmt: skip
    env = {
        "PATH": "/usr/bin:/bin",
        # No broker: what the producer could not deliver is spooled, and read here.
        "MCP_AUDIT_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "MCP_AUDIT_PRODUCER_SPOOL_DIR": str(tmp_path / "spool"),
        "MCP_AUDIT_PRODUCER_DELIVERY_TIMEOUT_MS": "300",
    }
    run = subprocess.run(
        [str(light_venv.python), "-I", "-m", "mcp_audit.cli", "proxy", "--", "cat"],
        input="".join(json.dumps(r) + "\n" for r in requests),
        capture_output=True, text=True, cwd="/", env=env, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert [json.loads(line)["id"] for line in run.stdout.splitlines()] == [1, 2]
    decode = Deserializer("AuditEvent")
    events = [
        decode(value)
        for segment in sorted((tmp_path / "spool").rglob("*.seg"))
        for _key, value in read_segment(segment)
    ]
    calls = [e for e in events if e["event_type"] == "TOOL_CALL"]
    assert calls and all(e["target"]["tool_name"] == "echo" for e in calls)
