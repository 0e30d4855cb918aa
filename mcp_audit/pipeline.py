"""The whole pipeline on one machine, as ``mcp-audit up`` runs it.

Lifecycle: :meth:`Pipeline.start` starts the platform (broker, topics, store),
the processor workers as supervised child processes, the sink, and the read
side's doors (dashboard and query endpoint, both behind one
:class:`~readside.session.ReadSide`) as threads of this process (chDB allows
one process per data directory, so this process owns the store); :meth:`Pipeline.stop` stops them
in reverse order and leaves no process behind. A sink that fails is restarted
after a backoff, never in a tight loop. An embedded broker that dies is
replaced by a fresh, empty one, and the processors and the sink start over on
it (:meth:`Pipeline._watch_broker`).
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from typing import Any

import uvicorn
from clickhouse_connect.driver.client import Client

from mcp_audit.demo.launch import demo_children, origin_keys_dir
from mcp_audit.embedded.broker import free_port
from mcp_audit.platform import Platform
from mcp_audit.settings import PlatformSettings
from mcp_audit.supervisor import Child, Supervisor
from readside.dashboard.server import dashboard_server
from readside.endpoint import QueryEndpoint
from readside.session import ReadSide
from readside.settings import ReadSettings
from readside.tokens import Tokens
from readside.web import require_loopback
from schemas.digest import TreeHead
from schemas.kafka import KafkaSettings
from sinks.digests import Sealer
from sinks.sealing import seal_every, sealer_from_settings
from sinks.service import open_store, run_restarting
from sinks.settings import SinkSettings

log = logging.getLogger(__name__)
BROKER_CHECK_S = 1.0


class Pipeline:
    def __init__(
        self,
        platform: PlatformSettings,
        kafka: KafkaSettings,
        sink: SinkSettings,
        read: ReadSettings,
        *,
        demo: bool = False,
    ) -> None:
        self.demo = demo
        self.platform = Platform(platform, kafka, sink)
        self.settings = platform
        if "token_file" not in read.model_fields_set:
            read = read.model_copy(
                update={"token_file": platform.data_dir.resolve() / "read-tokens.json"}
            )
        self.read = read
        self.tokens = Tokens(read.token_file)
        self._read_side: ReadSide | None = None
        self._endpoint: QueryEndpoint | None = None
        self.supervisor = Supervisor(platform.data_dir / "logs")
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dashboard: uvicorn.Server | None = None
        self._store_lock = threading.Lock()
        self._reader: Client | None = None
        self._processors: list[Child] = []
        self._sink_stop = threading.Event()
        self._sink: threading.Thread | None = None
        self._lifecycle = threading.Lock()  # a broker replacement and stop() never overlap

    @property
    def kafka(self) -> KafkaSettings:
        return self.platform.kafka

    @property
    def dashboard_url(self) -> str | None:
        """The dashboard's link, carrying this user's read token in its fragment."""
        if self._dashboard is None:
            return None
        base = f"http://{self.settings.dashboard_host}:{self.settings.dashboard_port}/"
        return f"{base}#token={self.tokens.ensure()}"

    @property
    def query_endpoint(self) -> str | None:
        """The query endpoint's URL while it serves."""
        return f"http://127.0.0.1:{self._endpoint.port}" if self._endpoint else None

    def start(self) -> Pipeline:
        if self.settings.dashboard_port:
            require_loopback(self.settings.dashboard_host, "dashboard")
        self.platform.start()
        self._reader = open_store(self.platform.sink_settings)
        self._start_consumers()
        self._thread("digests", self._seal_periodically)
        self._start_read_side()
        if self.demo:
            for child in demo_children(self.kafka, self.settings.data_dir.resolve()):
                self.supervisor.start(child)
        if self.platform.broker is not None:
            self._thread("broker-watch", self._watch_broker)
        return self

    def _start_consumers(self) -> None:
        """The processor workers and the sink: what reads the broker's topics."""
        self._processors = [
            self.supervisor.start(self._processor_child(index))
            for index in range(self.settings.processor_workers)
        ]
        self._sink_stop = threading.Event()
        self._sink = threading.Thread(
            target=run_restarting,
            args=(self.platform.sink_settings, self.kafka, self._sink_stop),
            name="sink",
            daemon=True,
        )
        self._sink.start()

    def _stop_consumers(self, grace_s: float = 10.0) -> None:
        self._sink_stop.set()
        self.supervisor.retire(self._processors, grace_s)
        self._processors = []
        if self._sink is not None:
            self._sink.join(30)
            if self._sink.is_alive():
                log.warning("the sink has not stopped after 30 s; going on without it")
            self._sink = None

    def _watch_broker(self) -> None:
        """Replace the embedded broker when it dies (a paused one is left alone).

        It kept its data in memory only, so the new one is empty: the topics are
        created again, and the processors and the sink start over on it. They are
        stopped before it starts, so that no offset read on the dead broker is
        committed to the new one (which would skip the new one's first events).
        Producers spool meanwhile and replay into it; events the dead broker held
        that the sink had not stored are lost (a real Kafka keeps them).
        """
        broker = self.platform.broker
        assert broker is not None
        while not self.stopping.wait(BROKER_CHECK_S):
            if broker.running:
                continue
            with self._lifecycle:
                if self.stopping.is_set():
                    return
                log.error("the embedded broker exited; starting a new, empty one")
                self._stop_consumers(grace_s=5.0)  # what they were doing died with the broker
                try:
                    self.platform.restart_broker()
                except Exception:
                    log.exception("the broker did not start again; retrying")
                    continue
                self._start_consumers()

    def _processor_child(self, index: int) -> Child:
        data_dir = self.settings.data_dir.resolve() / "processors" / str(index)
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = {
            "MCP_AUDIT_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "MCP_AUDIT_PROCESSORS_DATA_DIR": str(data_dir),
            "MCP_AUDIT_PROCESSORS_WEB_PORT": str(free_port()),
            # The processors watch the sink's lag by its group; here the sink is ours.
            "MCP_AUDIT_PROCESSORS_SINK_GROUP": self.platform.sink_settings.consumer_group,
        }
        key = self.platform.processor_key_file
        if key is not None:  # the sink checks enriched records under it (docs/security.md)
            env["MCP_AUDIT_PROCESSORS_KEY_FILE"] = str(key)
        if self.demo:  # the demo's producers sign: show origin checked, as in production
            keys = origin_keys_dir(self.settings.data_dir.resolve())
            env["MCP_AUDIT_PROCESSORS_ORIGIN_KEYS_DIR"] = str(keys)
        argv = [sys.executable, "-m", "mcp_audit.cli", "processors"]
        return Child(f"processors-{index}", argv, env)

    def _thread(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _seal_periodically(self) -> None:
        """The sealer (:mod:`sinks.digests`) in a thread, its first cycle once a period
        has passed: chDB lets one process hold the store, so each cycle runs on this
        process's reader, and the sealer is made on it the first time."""
        settings = self.platform.sink_settings
        sealer: Sealer | None = None

        def cycle() -> tuple[int, list[TreeHead]]:
            nonlocal sealer
            if sealer is None:  # made by the first cycle that can; a failure leaves it to the next
                sealer = self.run_query(
                    lambda client: sealer_from_settings(
                        client, settings, self.kafka, self.settings.data_dir
                    )
                )
            result: tuple[int, list[TreeHead]] = self.run_query(functools.partial(_cycle, sealer))
            return result

        if not self.stopping.wait(settings.seal_every_s):
            seal_every(cycle, settings.seal_every_s, self.stopping, _log_sealed)

    def run_query(self, query: Any) -> Any:
        """Run ``query(client)`` on this process's store reader, one at a time."""
        with self._store_lock:
            return query(self._reader)

    def _start_read_side(self) -> None:
        """The dashboard and the query endpoint: people's doors, behind one read side."""
        if not (self.settings.dashboard_port or self.read.port):
            return
        self.tokens.ensure()
        assert self.platform.store is not None
        side = ReadSide(self.platform.store, self.platform.sink_settings, self.read)
        self._read_side = side
        if self.read.port:
            self._endpoint = QueryEndpoint(side, self.tokens, self.read, self.read.port).start()
        if self.settings.dashboard_port:
            self._dashboard = dashboard_server(
                side, self.tokens, self.read, self.settings.dashboard_host,
                self.settings.dashboard_port,
            )  # fmt: skip
            self._thread("dashboard", self._dashboard.run)

    def stop(self) -> None:
        self.stopping.set()
        with self._lifecycle:  # a broker replacement under way finishes; none starts after
            if self._dashboard is not None:
                self._dashboard.should_exit = True
            self._stop_consumers()
            self.supervisor.stop()
        for thread in self._threads:
            thread.join(30)
        if self._endpoint is not None:
            self._endpoint.stop()
        if self._read_side is not None:
            self._read_side.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.platform.stop()

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _cycle(sealer: Sealer, client: Client) -> tuple[int, list[TreeHead]]:
    del client  # the sealer holds this process's reader; the lock is what run_query adds
    return sealer.cycle()


def _log_sealed(appended: int, heads: list[TreeHead]) -> None:
    if heads:
        log.info("sealed %d events, signed %d tree heads", appended, len(heads))
