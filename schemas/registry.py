"""The Avro schemas of the contract, loaded once, looked up by name or fingerprint.

``schemas/avro/`` holds the current schema of each record; ``schemas/avro/released/``
holds every version ever released, fully expanded, so a reader can resolve
events written by any released producer without a schema registry. Releasing a
change means adding its snapshot there (``python -m schemas.release``); a test
fails while the current schema has no snapshot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from schemas import avsc
from schemas.codegen import Decoder, Encoder, generate
from schemas.errors import SchemaError, UnknownSchemaError

AVRO_DIR = Path(__file__).parent / "avro"
RELEASED_DIR = AVRO_DIR / "released"
NAMESPACE = "mcp_audit"
RECORD_NAMES = ("AuditEvent", "EnrichedEvent", "Alert")


@dataclass(frozen=True)
class WriterSchema:
    """One known version of a record: its expanded JSON and fingerprint."""

    record: str
    fingerprint: bytes
    schema: dict[str, Any]

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()

    @cached_property
    def parsed(self) -> Any:
        """fastavro's parsed form, for schema resolution by the readers; fastavro is
        imported here, so the producer (which never resolves) does not need it."""
        from fastavro import parse_schema

        try:
            return parse_schema(self.schema)
        except Exception as exc:
            raise SchemaError("schema does not parse", record=self.record) from exc

    @cached_property
    def codec(self) -> tuple[Decoder, Encoder]:
        """Generated (decode, encode) for this exact schema, timestamps as datetimes."""
        return generate(self.schema)

    @cached_property
    def codec_micros(self) -> tuple[Decoder, Encoder]:
        """Like :attr:`codec`, but timestamps decode to int microseconds (cheaper)."""
        return generate(self.schema, timestamps_as_micros=True)


def rabin_fingerprint(schema: dict[str, Any] | str) -> bytes:
    """The CRC-64-AVRO fingerprint of a schema's parsing canonical form, 8 bytes little-endian."""
    return avsc.fingerprint(schema)


def _writer_schema(record: str, schema: dict[str, Any]) -> WriterSchema:
    return WriterSchema(record, rabin_fingerprint(schema), schema)


@cache
def current(record: str) -> WriterSchema:
    """The schema this code writes and reads into, for ``record`` (e.g. ``"AuditEvent"``)."""
    if record not in RECORD_NAMES:
        raise SchemaError("no such record in the contract", record=record, known=RECORD_NAMES)
    path = AVRO_DIR / f"{NAMESPACE}.{record}.avsc"
    try:
        expanded = avsc.load(path)
    except SchemaError as exc:
        raise SchemaError("cannot load schema file", record=record, path=str(path)) from exc
    return _writer_schema(record, expanded)


@cache
def released() -> dict[bytes, WriterSchema]:
    """Every released writer schema, by fingerprint."""
    known: dict[bytes, WriterSchema] = {}
    for path in sorted(RELEASED_DIR.glob("*.avsc")):
        record = path.name.split(".", 1)[0]
        try:
            schema = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SchemaError("unreadable released schema", path=str(path)) from exc
        writer = _writer_schema(record, schema)
        known[writer.fingerprint] = writer
    return known


def by_fingerprint(fp: bytes) -> WriterSchema:
    """The writer schema whose fingerprint is ``fp``; the current ones are always known."""
    for record in RECORD_NAMES:
        if current(record).fingerprint == fp:
            return current(record)
    try:
        return released()[fp]
    except KeyError:
        raise UnknownSchemaError(
            "no known schema has this fingerprint; upgrade the reader or add the writer's "
            "snapshot to schemas/avro/released/",
            schema_ref=fp.hex(),
        ) from None
