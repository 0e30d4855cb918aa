"""The supervisor restarts crashing children with backoff and leaves no process behind."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mcp_audit.supervisor import Child, Supervisor


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_crashing_child_is_restarted_with_growing_backoff(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, max_backoff_s=1.0)
    child = supervisor.start(Child("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"]))
    try:
        time.sleep(3.0)
    finally:
        supervisor.stop()
    # Backoff 0.5, 1.0, 1.0 ... plus the watch interval: a few restarts, not hundreds.
    assert 1 <= child.restarts <= 4
    assert child.backoff.peek() == 1.0


def test_stop_ends_children_and_their_children(tmp_path: Path) -> None:
    script = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "print(p.pid, flush=True); time.sleep(60)"
    )
    supervisor = Supervisor(tmp_path)
    child = supervisor.start(Child("parent", [sys.executable, "-c", script]))
    log = tmp_path / "parent.log"
    deadline = time.monotonic() + 10
    while not log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(log.read_text().split()[0])
    assert child.process is not None and _alive(child.process.pid) and _alive(grandchild)

    supervisor.stop(grace_s=5)

    assert child.process.poll() is not None
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    supervisor = Supervisor(tmp_path)
    child = supervisor.start(Child("stubborn", [sys.executable, "-c", script]))
    time.sleep(0.5)
    started = time.monotonic()
    supervisor.stop(grace_s=1.0)
    assert child.process is not None and child.process.poll() is not None
    assert time.monotonic() - started < 5


def test_retired_children_end_for_good_and_the_others_go_on(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    supervisor = Supervisor(tmp_path, max_backoff_s=0.5)
    retired = supervisor.start(Child("retired", sleeper))
    kept = supervisor.start(Child("kept", sleeper))
    try:
        supervisor.retire([retired], grace_s=5)
        assert retired.process is not None and retired.process.poll() is not None
        time.sleep(1.5)  # longer than a restart's backoff plus the watch interval
        assert retired.restarts == 0 and retired.process.poll() is not None
        assert kept.process is not None and kept.process.poll() is None
    finally:
        supervisor.stop(grace_s=5)
    assert kept.process.poll() is not None
