"""Wire formats: every message says which schema wrote it, so a consumer never guesses.

Two framings are understood on read, chosen on write by configuration:

* Avro single-object encoding (the default, no registry needed):
  ``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint + Avro binary body.
* Confluent Schema Registry framing: ``00`` + 4-byte big-endian schema id + body,
  written and read through confluent-kafka's own serializers.

Serializers and deserializers are small callables taking ``(obj, ctx)`` like
confluent-kafka's, so they plug into its producer and consumer helpers.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any

from schemas import registry
from schemas.errors import DeserializationError, SerializationError
from schemas.projection import Projection, projection_decoder
from schemas.repair import repaired

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = 0
_SINGLE_OBJECT_HEADER = len(SINGLE_OBJECT_MAGIC) + 8
_CONFLUENT_HEADER = 5


class SingleObjectSerializer:
    """Encodes a record dict as Avro single-object bytes with the current schema.

    Timestamps may be aware datetimes or int microseconds since the epoch. Text
    that is not valid Unicode and integers out of their type's range are written
    as :mod:`schemas.repair` says, with the altered fields named; anything else
    that does not match the schema raises :class:`SerializationError`.
    """

    __slots__ = ("_encode", "_header", "_schema", "record")

    def __init__(self, record: str) -> None:
        writer = registry.current(record)
        self.record = record
        self._encode = writer.codec[1]
        self._schema = writer.schema
        self._header = SINGLE_OBJECT_MAGIC + writer.fingerprint

    def __call__(self, obj: dict[str, Any], ctx: object = None) -> bytes:
        parts = [self._header]
        try:
            self._encode(obj, parts.append)
        except Exception as exc:
            parts = [self._header]
            self._encode_repaired(obj, parts.append, exc)
        return b"".join(parts)

    def _encode_repaired(self, obj: dict[str, Any], write: Any, first: Exception) -> None:
        try:
            fixed, altered = repaired(self._schema, obj)
            if altered:
                self._encode(fixed, write)
                return
        except Exception as exc:
            raise SerializationError(
                "record does not match its schema", record=self.record, error=repr(exc)
            ) from exc
        raise SerializationError(
            "record does not match its schema", record=self.record, error=repr(first)
        ) from first


class RegistrySerializer:
    """Encodes with Confluent framing through confluent-kafka's AvroSerializer.

    The schema is registered under the topic's value subject on first use, as
    confluent-kafka does; ``ctx`` must name the topic.
    """

    def __init__(self, record: str, registry_url: str) -> None:
        from confluent_kafka.schema_registry.avro import AvroSerializer

        self.record = record
        client = registry_client(registry_url)
        schema_str = schema_json(record)
        self._inner = AvroSerializer(client, schema_str, conf={"auto.register.schemas": True})

    def __call__(self, obj: dict[str, Any], ctx: Any = None) -> bytes:
        try:
            data = self._inner(obj, ctx)
        except Exception as exc:
            raise SerializationError(
                "registry serialization failed", record=self.record, error=str(exc)
            ) from exc
        if data is None:
            raise SerializationError("registry serializer returned nothing", record=self.record)
        return bytes(data)


class Deserializer:
    """Decodes either framing into a dict shaped by the current schema of ``record``.

    Events written by any released schema version are resolved into the current
    one (fields added since get their defaults; fields removed are dropped).
    Raises :class:`DeserializationError` (never anything else) on bad bytes.
    With ``timestamps_as_micros`` timestamps stay int microseconds, which is
    cheaper for consumers that only compare or store them. With a ``projection``
    (see :mod:`schemas.projection`) events of the current schema decode to only
    the fields it names, timestamps as microseconds; other writers' events, which
    a reader cannot forward unchanged anyway, still decode whole.
    """

    def __init__(
        self,
        record: str,
        registry_url: str | None = None,
        *,
        reader: registry.WriterSchema | None = None,
        writers: dict[bytes, registry.WriterSchema] | None = None,
        timestamps_as_micros: bool = False,
        projection: Projection | None = None,
    ) -> None:
        self.record = record
        self._reader = reader or registry.current(record)
        self._writers = writers or {}
        timestamps_as_micros = timestamps_as_micros or projection is not None
        codec = self._reader.codec_micros if timestamps_as_micros else self._reader.codec
        self._decode_current = self._decode_whole = codec[0]
        if projection is not None:
            self._decode_current = projection_decoder(self._reader.schema, projection)
        self._timestamps_as_micros = timestamps_as_micros
        self._current_header = SINGLE_OBJECT_MAGIC + self._reader.fingerprint
        self._registry_url = registry_url
        self._registry_inner: Any = None
        self._current_id_header: bytes | None = None

    def accept_schema_id(self, header: bytes) -> None:
        """Read Confluent-framed messages with this header (the registry's id of the
        current schema, see :mod:`schemas.framing`) as fast as single-object ones."""
        self._current_id_header = header

    def __call__(self, data: bytes | None, ctx: Any = None) -> dict[str, Any]:
        if data and data.startswith(self._current_header):  # nearly always: no slicing
            return self._body(data, self._reader)
        if data and self._current_id_header and data.startswith(self._current_id_header):
            return self._body(data, self._reader, _CONFLUENT_HEADER)
        if not data:
            raise DeserializationError("empty message", reason="empty", record=self.record)
        if data[:2] == SINGLE_OBJECT_MAGIC:
            return self._single_object(data)
        if data[0] == CONFLUENT_MAGIC and len(data) > _CONFLUENT_HEADER:
            return self._confluent(data, ctx)
        raise DeserializationError(
            "message has neither single-object nor Confluent framing",
            reason="unknown-framing",
            record=self.record,
            first_bytes=data[:4].hex(),
        )

    def _single_object(self, data: bytes) -> dict[str, Any]:
        if len(data) < _SINGLE_OBJECT_HEADER:
            raise DeserializationError("truncated header", reason="truncated", record=self.record)
        fingerprint = bytes(data[2:_SINGLE_OBJECT_HEADER])
        writer = self._writers.get(fingerprint) or registry.by_fingerprint(fingerprint)
        if writer.record != self.record:
            raise DeserializationError(
                "message holds a different record",
                reason="wrong-record",
                expected=self.record,
                found=writer.record,
            )
        return self._body(data, writer)

    def _body(
        self, data: bytes, writer: registry.WriterSchema, start: int = _SINGLE_OBJECT_HEADER
    ) -> dict[str, Any]:
        try:
            if writer is self._reader or writer.fingerprint == self._reader.fingerprint:
                record, end = self._decode_current(bytes(data), start)
            else:
                record, end = self._resolve(writer, data)
        except (EOFError, IndexError) as exc:
            raise DeserializationError("body ends early", reason="truncated") from exc
        except Exception as exc:
            raise DeserializationError(
                "body does not decode", reason="invalid", error=repr(exc)
            ) from exc
        if end != len(data):
            raise DeserializationError("trailing bytes after the record", reason="invalid")
        return record

    def _resolve(self, writer: registry.WriterSchema, data: bytes) -> tuple[dict[str, Any], int]:
        """Another version wrote it: fastavro resolves it into the reader schema."""
        # Imported here: the producer imports this module and never resolves (schemas/avsc.py).
        from fastavro import schemaless_reader

        buffer = io.BytesIO(memoryview(data)[_SINGLE_OBJECT_HEADER:])
        record = schemaless_reader(buffer, writer.parsed, self._reader.parsed)
        if not isinstance(record, dict):
            raise ValueError("body is not a record")
        end = buffer.tell() + _SINGLE_OBJECT_HEADER
        if self._timestamps_as_micros:  # rare path: one more round through our own codec
            parts: list[bytes] = []
            self._reader.codec[1](record, parts.append)
            record = self._decode_whole(b"".join(parts), 0)[0]
        return record, end

    def _confluent(self, data: bytes, ctx: Any) -> dict[str, Any]:
        if self._registry_url is None:
            raise DeserializationError(
                "Confluent-framed message but no schema registry is configured",
                reason="unknown-schema",
                schema_id=int.from_bytes(data[1:5], "big"),
            )
        if self._registry_inner is None:
            from confluent_kafka.schema_registry.avro import AvroDeserializer

            client = registry_client(self._registry_url)
            self._registry_inner = AvroDeserializer(client, schema_json(self.record))
        try:
            record = self._registry_inner(data, ctx)
        except Exception as exc:
            raise DeserializationError(
                "registry deserialization failed", reason="invalid", error=str(exc)
            ) from exc
        if not isinstance(record, dict):
            raise DeserializationError("registry returned no record", reason="invalid")
        if self._timestamps_as_micros:  # as _resolve: our codec turns datetimes to micros
            parts: list[bytes] = []
            self._reader.codec[1](record, parts.append)
            return self._decode_whole(b"".join(parts), 0)[0]
        return record


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def registry_client(url: str) -> Any:
    """One registry client per URL, shared, so its schema cache is too. Locked: writers
    ask for their ids on threads of their own at once, and two clients of confluent's
    mock:// registry would be two registries."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = SchemaRegistryClient.new_client({"url": url})
        return client


def schema_json(record: str) -> str:
    """The current schema of ``record`` as a registry stores it."""
    return json.dumps(registry.current(record).schema)


def serializer(
    record: str, registry_url: str | None = None
) -> SingleObjectSerializer | RegistrySerializer:
    """The serializer configuration asks for: registry framing when a URL is set."""
    if registry_url:
        return RegistrySerializer(record, registry_url)
    return SingleObjectSerializer(record)
