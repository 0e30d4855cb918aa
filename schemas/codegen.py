"""Avro binary codecs generated from a schema, faster than a generic interpreter.

fastavro walks the schema for every datum and decides each field's type at run
time; for our nested audit event (about 80 values) that costs 50-70 µs per
event, more than the whole per-call budget. Here each record type becomes one
straight-line Python function with its fields' decoding written out, generated
once from the ``.avsc`` (which stays the source of truth) and compiled with
``exec``. Output matches fastavro's for the same schema, which the tests prove
on random data; schema resolution between versions is left to fastavro.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.errors import SchemaError
from schemas.integrity import to_micros

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint at ``pos``: (value, position after it)."""
    # The generated codecs inline one- and two-byte varints and call this for the rest,
    # mostly 8-byte timestamps: the loop tests only the continuation bit and the length.
    byte = data[pos]
    value = byte & 0x7F
    shift = 7
    pos += 1
    while byte >= 0x80:
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        shift += 7
        pos += 1
    return (value >> 1) ^ -(value & 1), pos


_SMALL = [bytes([((n << 1) ^ (n >> 63)) & 0x7F]) if -64 <= n < 64 else b"" for n in range(-64, 64)]


def long_bytes(value: int) -> bytes:
    """The zigzag varint encoding of ``value``."""
    if -64 <= value < 64:
        return _SMALL[value + 64]
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"{value} does not fit in an Avro long")
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def int_bytes(value: int) -> bytes:
    """The zigzag varint encoding of an Avro ``int``: 32 bits, or Java readers misread it."""
    if -64 <= value < 64:
        return _SMALL[value + 64]
    if not -(1 << 31) <= value < (1 << 31):
        raise ValueError(f"{value} does not fit in an Avro int")
    return long_bytes(value)


def micros_to_datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class _Generator:
    """Writes the source of one decoder and one encoder function per named type."""

    def __init__(self, timestamps_as_micros: bool) -> None:
        self.timestamps_as_micros = timestamps_as_micros
        self.functions: dict[str, tuple[str, str]] = {}  # name -> (decode src, encode src)
        self.constants: dict[str, Any] = {}
        self._counter = 0
        self._inlining: set[str] = set()

    def constant(self, value: Any) -> str:
        self._counter += 1
        name = f"_c{self._counter}"
        self.constants[name] = value
        return name

    def record(self, schema: dict[str, Any]) -> str:
        name = str(schema["name"]).replace(".", "_")
        if name in self.functions:
            return name
        self.functions[name] = ("", "")  # reserve, for recursive references
        decode = [f"def _dec_{name}(d, p):", "    size = len(d)"]
        decode += _indent(self.inline_record(schema, "r"), 1)
        decode.append("    return r, p")
        encode = [f"def _enc_{name}(o, w):"]
        for field in schema["fields"]:
            encode += _indent(self.encoder(field["type"], self._field_value(field)), 1)
        if len(encode) == 1:
            encode.append("    pass")
        self.functions[name] = ("\n".join(decode), "\n".join(encode))
        return name

    def _field_value(self, field: dict[str, Any]) -> str:
        """How the encoder reads a field: a missing key takes its default, as in fastavro."""
        if "default" not in field:
            return f"o[{field['name']!r}]"
        return f"o.get({field['name']!r}, {self.constant(field['default'])})"

    def inline_record(self, schema: dict[str, Any], var: str) -> list[str]:
        """Decode a record's fields in place: no call per nested record."""
        lines: list[str] = []
        keys = []
        for index, field in enumerate(schema["fields"]):
            field_var = f"{var}_{index}"
            lines += self.decoder(field["type"], field_var)
            keys.append(f"{field['name']!r}: {field_var}")
        lines.append(f"{var} = {{{', '.join(keys)}}}")
        return lines

    def decoder(self, schema: Any, var: str) -> list[str]:
        kind, schema = _kind(schema)
        if kind == "null":
            return [f"{var} = None"]
        if kind == "boolean":
            return [f"{var} = d[p] == 1", "p += 1"]
        if kind in ("int", "long"):
            lines = varint(var)
            if schema.get("logicalType") == "timestamp-micros" and not self.timestamps_as_micros:
                lines.append(f"{var} = micros_to_datetime({var})")
            return lines
        if kind == "double":
            return [f"{var} = _DOUBLE.unpack_from(d, p)[0]", "p += 8"]
        if kind == "float":
            return [f"{var} = _FLOAT.unpack_from(d, p)[0]", "p += 4"]
        if kind in ("string", "bytes"):
            convert = ".decode()" if kind == "string" else ""
            return [
                *varint("n"),
                "e = p + n",
                "if n < 0 or e > size:",
                "    raise EOFError('string runs past the end')",
                f"{var} = d[p:e]{convert}",
                "p = e",
            ]
        if kind == "enum":
            symbols = self.constant(tuple(schema["symbols"]))
            return [f"{var} = {symbols}[d[p] >> 1]", "p += 1"]
        if kind == "fixed":
            return [f"{var} = d[p:p + {schema['size']}]", f"p += {schema['size']}"]
        if kind == "record":
            if schema["name"] in self._inlining:  # recursive type: call, don't inline
                return [f"{var}, p = _dec_{self.record(schema)}(d, p)"]
            self._inlining.add(schema["name"])
            lines = self.inline_record(schema, var)
            self._inlining.discard(schema["name"])
            return lines
        if kind in ("array", "map"):
            return self._collection_decoder(kind, schema, var)
        if kind == "union":
            return self._union_decoder(schema, var)
        raise SchemaError("type not supported by the generated codec", type=kind)

    def _collection_decoder(self, kind: str, schema: dict[str, Any], var: str) -> list[str]:
        item = self.decoder(schema["items" if kind == "array" else "values"], "x")
        add = f"{var}.append(x)" if kind == "array" else f"{var}[k] = x"
        key = self.decoder("string", "k") if kind == "map" else []
        return [
            f"{var} = {'[]' if kind == 'array' else '{}'}",
            *block_loop(),
            *_indent([*key, *item, add], 2),
        ]

    def _union_decoder(self, branches: list[Any], var: str) -> list[str]:
        lines = ["i = d[p] >> 1", "p += 1"]
        for index, branch in enumerate(branches):
            lines.append(f"{'if' if index == 0 else 'elif'} i == {index}:")
            lines += _indent(self.decoder(branch, var), 1)
        lines += ["else:", "    raise ValueError('union index out of range')"]
        return lines

    def encoder(self, schema: Any, value: str) -> list[str]:
        kind, schema = _kind(schema)
        if kind == "null":
            return []
        if kind == "boolean":
            return [f"w(b'\\x01' if {value} else b'\\x00')"]
        if kind in ("int", "long"):
            if schema.get("logicalType") == "timestamp-micros":
                return [f"w(long_bytes(datetime_to_micros({value})))"]
            return [f"w({kind}_bytes({value}))"]
        if kind == "double":
            return [f"w(_DOUBLE.pack({value}))"]
        if kind == "float":
            return [f"w(_FLOAT.pack({value}))"]
        if kind in ("string", "bytes"):
            convert = ".encode()" if kind == "string" else ""
            return [f"s = {value}{convert}", "w(long_bytes(len(s)))", "w(s)"]
        if kind == "enum":
            table = {s: long_bytes(i) for i, s in enumerate(schema["symbols"])}
            return [f"w({self.constant(table)}[{value}])"]
        if kind == "fixed":
            return [f"w({value})"]
        if kind == "record":
            return [f"_enc_{self.record(schema)}({value}, w)"]
        if kind == "array":
            return [
                f"a = {value}",
                "if a:",
                "    w(long_bytes(len(a)))",
                "    for x in a:",
                *_indent(self.encoder(schema["items"], "x"), 2),
                "w(b'\\x00')",
            ]
        if kind == "map":
            return [
                f"a = {value}",
                "if a:",
                "    w(long_bytes(len(a)))",
                "    for k, x in a.items():",
                *_indent(self.encoder("string", "k"), 2),
                *_indent(self.encoder(schema["values"], "x"), 2),
                "w(b'\\x00')",
            ]
        if kind == "union":
            return self._union_encoder(schema, value)
        raise SchemaError("type not supported by the generated codec", type=kind)

    def _union_encoder(self, branches: list[Any], value: str) -> list[str]:
        kinds = [_kind(b)[0] for b in branches]
        if len(branches) != 2 or kinds[0] != "null":
            raise SchemaError("only [null, T] unions are supported", branches=kinds)
        return [
            f"u = {value}",
            "if u is None:",
            "    w(b'\\x00')",
            "else:",
            "    w(b'\\x02')",
            *_indent(self.encoder(branches[1], "u"), 1),
        ]


def varint(var: str) -> list[str]:
    """Lines reading a zigzag varint into ``var``: one and two bytes (most lengths, counts
    and enum-sized numbers) inline, longer ones through a call."""
    return [
        "b = d[p]",
        "if b < 128:",
        f"    {var} = (b >> 1) ^ -(b & 1)",
        "    p += 1",
        "elif d[p + 1] < 128:",
        "    b = (b & 127) | (d[p + 1] << 7)",
        f"    {var} = (b >> 1) ^ -(b & 1)",
        "    p += 2",
        "else:",
        f"    {var}, p = read_long(d, p)",
    ]


def block_loop() -> list[str]:
    """The head of an array's or map's block loop; the body goes at depth 2, once per item."""
    return [
        "while True:",
        *_indent(varint("c"), 1),
        "    if c == 0:",
        "        break",
        "    if c < 0:  # a negative count is followed by the block's size in bytes",
        "        c = -c",
        "        _, p = read_long(d, p)",
        "    for _ in range(c):",
    ]


def _kind(schema: Any) -> tuple[str, Any]:
    if isinstance(schema, list):
        return "union", schema
    if isinstance(schema, str):
        return schema, {}
    return schema["type"], schema


def _indent(lines: list[str], depth: int) -> list[str]:
    return [("    " * depth) + line for line in lines]


Decoder = Callable[[bytes, int], tuple[dict[str, Any], int]]
Encoder = Callable[[Any, Callable[[bytes], object]], None]


def generate(
    schema: dict[str, Any], *, timestamps_as_micros: bool = False
) -> tuple[Decoder, Encoder]:
    """(decode, encode) for a fully expanded record schema.

    ``decode(data, pos)`` returns the record dict and the position after it;
    ``encode(record, write)`` calls ``write(bytes)`` for each piece.
    """
    generator = _Generator(timestamps_as_micros)
    root = generator.record(schema)
    source = "\n\n".join(d + "\n\n" + e for d, e in generator.functions.values())
    namespace: dict[str, Any] = {
        "read_long": read_long,
        "long_bytes": long_bytes,
        "int_bytes": int_bytes,
        "micros_to_datetime": micros_to_datetime,
        "datetime_to_micros": to_micros,
        "_DOUBLE": _DOUBLE,
        "_FLOAT": _FLOAT,
        **generator.constants,
    }
    exec(compile(source, f"<avro codec {schema['name']}>", "exec"), namespace)
    return namespace[f"_dec_{root}"], namespace[f"_enc_{root}"]
