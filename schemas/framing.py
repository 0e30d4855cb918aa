"""Which header a writer puts before its Avro bodies: single-object, or Confluent's.

Single-object (``C3 01`` + CRC-64-AVRO fingerprint) needs only the schema.
Confluent framing (``00`` + 4-byte big-endian schema id) needs the id a Schema
Registry gives the writer schema under the topic's value subject
(``<topic>-value``, confluent-kafka's default subject name strategy), so a writer
configured with a registry asks for it once, at start, on a thread of its own: no
call ever waits for the registry. Until the id is known the writer goes on with
single-object framing, which every reader of the pipeline reads as well; a registry
that does not answer is asked again after a pause that doubles from 1 s to 60 s.
The body is the same bytes in both framings, so switching costs nothing per message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from schemas import registry
from schemas.wire import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC, registry_client, schema_json

log = logging.getLogger(__name__)


def value_subject(topic: str) -> str:
    return f"{topic}-value"


def confluent_header(schema_id: int) -> bytes:
    return bytes([CONFLUENT_MAGIC]) + schema_id.to_bytes(4, "big")


def single_object_header(record: str) -> bytes:
    return SINGLE_OBJECT_MAGIC + registry.current(record).fingerprint


def register(record: str, registry_url: str, topic: str) -> int:
    """The registry's id of ``record``'s current schema under ``topic``'s value subject,
    registered if it is new there (as confluent-kafka's AvroSerializer does)."""
    from confluent_kafka.schema_registry import Schema

    client = registry_client(registry_url)
    return int(client.register_schema(value_subject(topic), Schema(schema_json(record), "AVRO")))


class RegistryFraming:
    """Asks the registry for a writer schema's id until it answers, then hands the
    Confluent header to ``use`` (once). :meth:`stop` ends the asking."""

    def __init__(
        self,
        record: str,
        registry_url: str,
        topic: str,
        use: Callable[[bytes], None],
        *,
        lookup: Callable[[str, str, str], int] = register,
        pause_s: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        self.record, self.registry_url, self.topic = record, registry_url, topic
        self.schema_id: int | None = None
        self._use, self._lookup, self._pause_s = use, lookup, pause_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"mcp-audit-registry-{record}", daemon=True
        )

    def start(self) -> RegistryFraming:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 1.0) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        pause, most = self._pause_s
        while not self._stopped.is_set():
            try:
                schema_id = self._lookup(self.record, self.registry_url, self.topic)
            except Exception as exc:  # down, refusing, misconfigured: single-object meanwhile
                log.warning(
                    "schema registry gave no id for %s (%s); writing single-object, "
                    "asking again in %.0f s", self.record, exc, pause,
                )  # fmt: skip
                self._stopped.wait(pause)
                pause = min(pause * 2, most)
                continue
            self.schema_id = schema_id
            self._use(confluent_header(schema_id))
            return


def _reframe(value: bytes, single: bytes, confluent: bytes) -> bytes:
    """The same body behind the Confluent header (a value that has it already is kept)."""
    if value.startswith(single):
        return confluent + memoryview(value)[len(single) :]
    return value


class Framer:
    """Frames one record's single-object messages for one topic: unchanged until the
    registry gives the record's id, Confluent framing from then on."""

    def __init__(self, record: str) -> None:
        self._single = single_object_header(record)
        self._confluent: bytes | None = None

    @property
    def ready(self) -> bool:
        """Whether the registry's id is known (messages leave in Confluent framing)."""
        return self._confluent is not None

    def use(self, confluent: bytes) -> None:
        """What :class:`RegistryFraming` hands over once the registry answered."""
        self._confluent = confluent

    def __call__(self, value: bytes) -> bytes:
        confluent = self._confluent
        return value if confluent is None else _reframe(value, self._single, confluent)
