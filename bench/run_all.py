"""Run every benchmark in bench/ and write docs/benchmarks.md.

Each ``bench/bench_*.py`` is runnable alone (``python -m bench.bench_wire``) and
exposes ``main() -> str``, returning its Markdown section. Benchmarks report
ratios against a baseline measured in the same run, because these machines are
shared and absolute times drift.
"""

from __future__ import annotations

import importlib
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent


def main() -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    only = set(sys.argv[1:])
    sections = []
    for name in names:
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        started = time.monotonic()
        section = importlib.import_module(f"bench.{name}").main()
        print(section, flush=True)
        sections.append(f"{section}\n\n_{name}: {time.monotonic() - started:.0f} s_\n")
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` on {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"Python {platform.python_version()}, {platform.machine()}, "
        f"{_cores()} cores. Ratios compare against a baseline measured in the same run.\n\n"
    )
    (ROOT / "docs" / "benchmarks.md").write_text(header + "\n".join(sections))
    return 0


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
