"""Run the pipeline's child processes, restart them with backoff, and stop them all.

:class:`Supervisor` starts each :class:`Child` in its own process group with
its output in ``<log_dir>/<name>.log``. A child that exits on its own is
restarted after a backoff that doubles up to a ceiling and resets once the
child has stayed up a while, so a crashing child never becomes a tight loop.
:meth:`Supervisor.stop` sends SIGTERM to every group, then SIGKILL to what is
left after the grace period; it is safe to call twice. :meth:`Supervisor.retire`
does the same to some children only, for good.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mcp_audit.private_files import open_private_append
from schemas.backoff import Backoff

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    backoff: Backoff = field(default_factory=lambda: Backoff(0.5, 30.0))  # the supervisor's
    restart: bool = True  # False: a one-shot job, left alone once it exits


class Supervisor:
    def __init__(self, log_dir: Path, *, max_backoff_s: float = 30.0, stable_s: float = 30.0):
        self.log_dir = log_dir
        self.max_backoff_s = max_backoff_s
        self.stable_s = stable_s
        self.children: list[Child] = []
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, child: Child) -> Child:
        self.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        child.backoff = Backoff(0.5, self.max_backoff_s)
        self.children.append(child)
        self._spawn(child)
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
            self._watcher.start()
        return child

    def _spawn(self, child: Child) -> None:
        with open_private_append(self.log_dir / f"{child.name}.log") as output:
            child.process = subprocess.Popen(
                child.argv,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **child.env},
                start_new_session=True,  # its own group: stop() ends its children too
            )
        child.started_at = time.monotonic()
        log.info("started %s (pid %s)", child.name, child.process.pid)

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for child in self.children:
                if child.process is None or child.process.poll() is None or not child.restart:
                    continue
                self._restart_later(child)

    def _restart_later(self, child: Child) -> None:
        assert child.process is not None
        if time.monotonic() - child.started_at > self.stable_s:
            child.backoff.reset()  # it ran fine for a while: this is a fresh failure
        log.warning(
            "%s exited with %s; restarting in %.1f s (see %s.log)",
            child.name,
            child.process.returncode,
            child.backoff.peek(),
            child.name,
        )
        if self._stopping.wait(child.backoff.wait()):
            return
        with self._lock:
            if not child.restart:
                return  # retired while it waited
            child.restarts += 1
            self._spawn(child)

    def retire(self, children: list[Child], grace_s: float = 10.0) -> None:
        """Stop these children for good, as :meth:`stop` does; the others go on."""
        with self._lock:  # after this, no restart of theirs can begin
            for child in children:
                child.restart = False
        _end(children, grace_s)

    def stop(self, grace_s: float = 10.0) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(grace_s)
        _end(self.children, grace_s)


def _end(children: list[Child], grace_s: float) -> None:
    """SIGTERM to each child's process group, SIGKILL to what is left after ``grace_s``."""
    running = [c.process for c in children if c.process and c.process.poll() is None]
    for process in running:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(5)


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
