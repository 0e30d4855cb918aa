"""Hand encoded events to Kafka without ever making the caller wait, and lose none.

Lifecycle: a Publisher is built with its Kafka client and given a spool (a
claimed slot); :meth:`Publisher.start` starts one daemon I/O thread;
:meth:`close` flushes (what the broker does not take in time goes to the
spool) and stops it. :meth:`publish` is the
only method on the call path: it hands bytes to librdkafka's local queue and
returns; it never blocks on the network or disk and never raises. Everything
slow happens on the I/O thread: spooling events the queue would not take or
the broker refused, replaying the spool in order once the broker answers
again, and the periodic ``on_tick`` given to :meth:`Publisher.start` (heartbeats):
one step each, in turn. Delivery reports are
served there too, and by :meth:`publish` every ``_SERVE_EVERY`` events (see
there why).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from producers.settings import ProducerSettings
from producers.transport.counters import Counters
from producers.transport.replay import Replay, is_fatal
from producers.transport.spool import Spool
from schemas.kafka import KafkaSettings

log = logging.getLogger(__name__)
_POLL_S = 0.05
# Each delivery report is a Python callback that takes the GIL anew. Served only by the
# I/O thread, they wait behind a caller that keeps the GIL (a busy server): measured,
# a caller handing 150,000 events/s got 60,000/s delivered and the rest spooled. The
# caller serves what has arrived itself, without waiting: a few microseconds each time.
_SERVE_EVERY = 128
_TAKE_BACK_S = 5.0  # purged events come back in milliseconds; this only bounds a stuck client


def producer_config(settings: ProducerSettings, kafka: KafkaSettings) -> dict[str, Any]:
    return {
        **kafka.client_config(),
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": settings.linger_ms,
        "message.timeout.ms": settings.delivery_timeout_ms,
        # a frozen broker holds requests open; without this, in-flight events wait 30 s
        "request.timeout.ms": min(settings.delivery_timeout_ms, 30_000),
        "queue.buffering.max.messages": settings.queue_max_messages,
        "compression.type": "lz4",
        # A producer must not create the raw topic (with the broker's default partition
        # count) when it reaches a fresh broker before the topics were made.
        "allow.auto.create.topics": False,
        "logger": logging.getLogger("producers.librdkafka"),
    }


class _Every:
    """An I/O-loop step that runs ``job`` at once, then whenever ``interval_s`` has passed."""

    __slots__ = ("interval_s", "job", "next_at")

    def __init__(self, interval_s: float, job: Callable[[], object]) -> None:
        self.interval_s, self.job, self.next_at = interval_s, job, 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now >= self.next_at:
            self.next_at = now + self.interval_s
            self.job()


class Publisher:
    """Built whole (the Kafka client is made here, the spool is given); :meth:`start`
    only starts the I/O thread. The client is the publisher's own rather than passed in:
    its delivery and error callbacks are the publisher's, and a client that fails
    fatally is replaced by a new one (see :meth:`_replace_fatal_producer`)."""

    def __init__(
        self, settings: ProducerSettings, kafka: KafkaSettings, counters: Counters, spool: Spool
    ) -> None:
        """``spool`` is the publisher's from now on: :meth:`close` closes it."""
        self.settings = settings
        self.topic = kafka.topic_raw
        self.counters = counters
        self._config = producer_config(settings, kafka)
        self._overflow: deque[tuple[bytes | None, bytes]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._spool = spool
        self._fatal = False
        self._producer, self._replay = self._new_producer()
        self._until_serve = _SERVE_EVERY
        self.healthy = True

    def start(self, on_tick: Callable[[], None] | None = None) -> Publisher:
        """Start the I/O thread. It calls ``on_tick`` (the Auditor's heartbeat) at once and
        then every ``heartbeat_interval_s``: passed here, not at construction, because the
        Auditor that beats is built around this publisher."""
        steps: list[Callable[[], None]] = [
            self._wait_for_reports, self._drain_overflow, self._renew_failed_producer,
            _Every(1.0, self._spool.sync),
        ]  # fmt: skip
        if on_tick is not None:
            steps.append(_Every(self.settings.heartbeat_interval_s, on_tick))
        steps.append(self._replay_step)
        self._thread = threading.Thread(
            target=self._run, args=(steps,), name="mcp-audit-io", daemon=True
        )
        self._thread.start()
        return self

    def _new_producer(self) -> tuple[Producer, Replay]:
        """A fresh Kafka client, and the replay that feeds the spool through it."""
        self._fatal = False
        producer = Producer(
            {**self._config, "on_delivery": self._delivered, "error_cb": self._client_error}
        )
        return producer, Replay(producer, self.topic, self._spool, self.counters)

    def _replace_fatal_producer(self) -> None:
        """An idempotent producer can be fenced or fail fatally (e.g. after timeouts while
        the broker was frozen); it never recovers, so start a fresh one. Whatever the old
        one still held comes back as failed deliveries and goes to the spool."""
        log.warning("Kafka producer failed fatally; replacing it")
        old = self._producer
        self._producer, self._replay = self._new_producer()
        self._take_back(old)
        self._fatal = False  # what the old producer just reported is not about the new one
        self._drain_overflow()

    def _take_back(self, producer: Producer) -> None:
        """Purge ``producer`` and wait until it has reported every event it held.

        Events in flight to a broker that does not answer are reported (as failed, so
        spooled) a few milliseconds after the purge, not during it: a producer dropped
        or left unpolled right after ``purge()`` loses them without a trace.
        """
        producer.purge(in_queue=True, in_flight=True)
        for _ in range(producer.flush(_TAKE_BACK_S)):
            self.counters.drop("the Kafka client did not hand back a purged event")

    def publish(self, key: bytes | None, value: bytes) -> None:
        """Queue one event; if the local queue is full it goes to the spool instead."""
        try:
            self._producer.produce(self.topic, value, key)
        except BufferError:
            self.healthy = False
            self._overflow.append((key, value))
        except Exception:  # never into the tool call: the I/O thread spools it
            self.counters.failure("produce")
            self._overflow.append((key, value))
        self._until_serve -= 1  # a lost decrement between threads only delays a serve
        if self._until_serve <= 0:
            self._until_serve = _SERVE_EVERY
            self._serve_arrived_reports()

    def _serve_arrived_reports(self) -> None:
        try:
            self._producer.poll(0)
        except KafkaException as exc:  # poll() raises the producer's fatal errors
            self._client_raised(exc, "poll")
        except Exception:
            self.counters.failure("poll")

    def _client_raised(self, exc: KafkaException, where: str) -> None:
        """A fatal error gets the producer replaced (I/O thread); others are counted."""
        self._fatal = self._fatal or is_fatal(exc.args[0])
        if not self._fatal:
            self.counters.failure(where)

    def _delivered(self, err: KafkaError | None, msg: Any) -> None:
        if err is None:
            self.counters.sent += 1
            self.healthy = True
        else:
            self.healthy = False
            self._fatal = self._fatal or is_fatal(err)
            self._overflow.append((msg.key(), msg.value()))

    def _client_error(self, err: KafkaError) -> None:
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self.healthy = False  # fail-closed classes refuse until a delivery succeeds
        self._fatal = self._fatal or is_fatal(err)

    def _run(self, steps: list[Callable[[], None]]) -> None:
        """The I/O thread: the steps in turn until :meth:`close`. A step that fails is
        counted and logged; the loop goes on after a pause, never ends."""
        while not self._stop.is_set():
            try:
                for step in steps:
                    step()
            except KafkaException as exc:  # poll() raises the producer's fatal errors
                self._client_raised(exc, "io-thread")
            except Exception:
                self.counters.failure("io-thread")
                log.exception("audit I/O loop failed; continuing")
                time.sleep(_POLL_S)

    def _wait_for_reports(self) -> None:
        """Serve delivery reports, waiting up to ``_POLL_S`` for one: the loop's pace."""
        self._producer.poll(_POLL_S)

    def _renew_failed_producer(self) -> None:
        if self._fatal or self._replay.fenced:
            self._replace_fatal_producer()

    def _replay_step(self) -> None:
        self._replay.step(time.monotonic(), self.settings.replay_interval_s)

    def _drain_overflow(self) -> None:
        spool = self._spool
        while self._overflow:
            key, value = self._overflow.popleft()
            if spool.append(key, value):
                self.counters.spooled += 1
            else:
                self.counters.drop("spool full")
        self.counters.spool_bytes = spool.bytes
        self.counters.check_spool(spool.bytes, self.settings)

    def _finish_replay(self, deadline: float) -> None:
        """While the broker takes events, settle the replay in flight and replay the rest.

        Replay otherwise runs only on the I/O thread; a short-lived process (a CLI, a
        proxy session) would leave a replayed segment on disk, to be sent again at the
        next start, and never reach the segments after it.
        """
        replay, spool = self._replay, self._spool
        while time.monotonic() < deadline:
            self._drain_overflow()
            replay.step(time.monotonic(), 0.0)
            if replay.idle and not spool.segments() and spool.bytes == 0:
                return
            if self._producer.flush(max(0.0, deadline - time.monotonic())):
                return  # the broker stopped taking events: the rest stays spooled
            if replay.failed_last:
                return

    def queued(self) -> int:
        """Events in the Kafka client's local queue, not yet acknowledged."""
        return len(self._producer)

    def flush(self, timeout_s: float = 10.0) -> int:
        """Wait for queued events; returns how many are still undelivered."""
        return int(self._producer.flush(timeout_s))

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush, spool what is left, stop the I/O thread. Safe to call twice."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        deadline = time.monotonic() + timeout_s
        if self._producer.flush(timeout_s):
            self._take_back(self._producer)  # what the broker did not take goes to the spool
        else:
            self._finish_replay(deadline)
        self._drain_overflow()
        self._spool.close()
