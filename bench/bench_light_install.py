"""The producer-only install against the full platform (issue 18): size and import time.

The light side is real: this tree's wheel installed with its dependencies from the
package index into a fresh venv, measured on disk against a bare venv. The full side is
a baseline tree (``BASELINE``, default: a worktree of main before the split, where the
one distribution installed the platform): its import time through this environment's
interpreter, its dependencies' size from this environment's installed metadata.

``python -m bench.bench_light_install [BASELINE_TREE]``
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.light_install import (
    HEAVY_DISTRIBUTIONS,
    IMPORT_BAR_S,
    SIZE_BAR_BYTES,
    StartupTimes,
    build_wheel,
    closure,
    fresh_venv,
    startup_times,
    tree_bytes,
)
from bench.timing import table

# A checkout of the single distribution before the split (e.g. ``git worktree add --detach
# ../base 13d89a1``); without one the table has the light side only.
DEFAULT_BASELINE = Path(os.environ.get("MCP_AUDIT_BENCH_BASELINE", "/work/wt-light-base"))
ROUNDS = 25  # best of: wall time on a shared machine needs a quiet moment
STATEMENTS = ("import producers.decorator", "import producers.api")


def main(baseline: Path = DEFAULT_BASELINE) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wheel = build_wheel(root / "dist")
        fresh_venv(root / "bare", with_pip=True)
        bare = tree_bytes(root / "bare")
        light_python = fresh_venv(root / "light", with_pip=True)
        subprocess.run(
            [str(light_python), "-m", "pip", "install", "-q", str(wheel)],
            check=True, capture_output=True,
        )  # fmt: skip
        added = tree_bytes(root / "light") - bare
        listed = subprocess.run(
            [str(light_python), "-m", "pip", "list", "--format=freeze"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        installed = {canonicalize_name(line.split("==")[0]) for line in listed.splitlines()}
        light = {s: startup_times(light_python, s, rounds=ROUNDS) for s in STATEMENTS}
    if not (baseline / "pyproject.toml").exists():
        rows = [["venv size added (MB)", f"{added / 1e6:.1f}", "-", "-"]]
        rows += [[f"`{s}` added, {kind} ms", f"{getattr(t, f'added_{kind}') * 1e3:.0f}", "-", "-"]
                 for s, t in light.items() for kind in ("wall", "cpu")]  # fmt: skip
        full: dict[str, StartupTimes] = {}
    else:
        rows, full = _against(baseline, added, light)
    heavy = sorted(installed & HEAVY_DISTRIBUTIONS) or "none"
    body = table(["measure", "light (this tree, wheel)", f"full ({baseline.name})", "ratio"], rows)
    details = "\n".join(f"- `{s}` light: {light[s]}; full: {full.get(s, '-')}" for s in STATEMENTS)
    return (
        "## The light producer install\n\n"
        f"{body}\n\n"
        f"Bars: size added ≤ {SIZE_BAR_BYTES / 1e6:.0f} MB, import added ≤ "
        f"{IMPORT_BAR_S * 1e3:.0f} ms. Heavy distributions in the light venv: {heavy}. "
        f"Installed: {', '.join(sorted(installed))}.\n\n{details}"
    )


def _against(
    baseline: Path, added: int, light: dict[str, StartupTimes]
) -> tuple[list[list[str]], dict[str, StartupTimes]]:
    """Rows comparing the light install with the baseline's single distribution."""
    requirements = tomllib.loads((baseline / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    full_bytes = sum(closure(Requirement(r) for r in requirements).values())
    prefix = f"import sys; sys.path.insert(0, {str(baseline)!r}); "
    full = {s: startup_times(sys.executable, prefix + s, rounds=ROUNDS) for s in STATEMENTS}
    rows = [["venv size added (MB)", f"{added / 1e6:.1f}", f"{full_bytes / 1e6:.0f}",
             f"{added / full_bytes:.3f}"]]  # fmt: skip
    for statement in STATEMENTS:
        for kind in ("wall", "cpu"):
            lt = getattr(light[statement], f"added_{kind}")
            ft = getattr(full[statement], f"added_{kind}")
            rows.append([f"`{statement}` added, {kind} ms", f"{lt * 1e3:.0f}",
                         f"{ft * 1e3:.0f}", f"{lt / ft:.2f}"])  # fmt: skip
    return rows, full


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_BASELINE))
