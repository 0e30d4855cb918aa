"""The official Apache Avro library for Python (PyPI ``avro``) as an oracle for our bytes.

The project's own reader shares code with its writers; this one does not. It
reads a message's body with the writer schema the header names (resolving into
the current schema when they differ, as the spec says), must consume every
byte, and the datum it reads must validate against the schema (an ``int`` in
32 bits, a ``long`` in 64). Its UTF-8 decoding is strict, so a lone surrogate
written through fails here, as in Java.

Its single-object fingerprint differs from the spec's: its canonical form keeps
``{"type":"long"}`` for a ``timestamp-micros`` long where the spec's parsing
canonical form has ``"long"``; :func:`official_fingerprint` shows the workaround
that docs/schema.md gives consumers.
"""

from __future__ import annotations

import io
import json
from functools import cache
from typing import Any

import avro.io
import avro.schema

from schemas import registry
from schemas.wire import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC


def _without_logical_longs(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("type") in ("int", "long") and "logicalType" in node:
            return node["type"]
        return {k: _without_logical_longs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_logical_longs(v) for v in node]
    return node


@cache
def _parsed(fingerprint: bytes) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(registry.by_fingerprint(fingerprint).schema))


def official_fingerprint(schema: dict[str, Any]) -> bytes:
    """The single-object fingerprint by the official library, with the workaround: the
    logical types taken out first (they are not part of the parsing canonical form)."""
    return avro.schema.parse(json.dumps(_without_logical_longs(schema))).fingerprint()


def official_decode(data: bytes, record: str, confluent_ids: dict[int, bytes] | None = None) -> Any:
    """The datum the official library reads from one of our messages (either framing;
    ``confluent_ids`` maps a registry id to the fingerprint of the schema it names)."""
    if data[:2] == SINGLE_OBJECT_MAGIC:
        fingerprint, body = data[2:10], data[10:]
    else:
        assert data[0] == CONFLUENT_MAGIC and confluent_ids is not None
        fingerprint, body = confluent_ids[int.from_bytes(data[1:5], "big")], data[5:]
    writer = _parsed(fingerprint)
    reader = _parsed(registry.current(record).fingerprint)
    assert official_fingerprint(registry.by_fingerprint(fingerprint).schema) == fingerprint
    buffer = io.BytesIO(body)
    datum = avro.io.DatumReader(writer, reader).read(avro.io.BinaryDecoder(buffer))
    assert buffer.tell() == len(body), "the official reader left bytes unread"
    assert avro.io.validate(reader, datum, raise_on_error=True)
    return datum
