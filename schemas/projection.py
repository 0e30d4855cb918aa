"""Generated Avro decoders that build only the fields a reader names and step over the rest.

A reader that looks at a dozen of the audit event's ~80 values still pays, with
the full codec, for decoding and storing every one of them. A projection walks
the same bytes (Avro has no index, so every value must be stepped over) but
creates nothing for the values left out. It checks what the full decoder
checks (lengths, union and enum indexes, UTF-8 of every string, the end of the
body), so the bytes a projection accepts are bytes the full codec accepts too,
and a reader may forward them unchanged. Timestamps stay int microseconds.

A projection names fields as a nested mapping: ``True`` keeps a field whole, a
mapping keeps only the named fields of a record (also inside a ``[null, record]``
union), and a field not named is skipped. Recursive records are not supported.

A record whose encoding repeats from message to message (who called, which tool
on which server: the same bytes for every call of a session) can be marked
:class:`Repeating`. Its decodings are then remembered by their bytes, and a
later message whose bytes at that place start with a remembered encoding gets
the remembered value without a walk. That is exact, not a guess: Avro's binary
encoding of one schema is self-delimiting, so a decoder that meets those bytes
reads exactly them and yields exactly that value. Remembered values are shared
between messages, so a reader must not change them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.caches import remember
from schemas.codegen import (
    _DOUBLE,
    _FLOAT,
    Decoder,
    _Generator,
    _indent,
    _kind,
    block_loop,
    read_long,
)
from schemas.errors import SchemaError

Projection = Mapping[str, Any]
_WHOLE: Projection = {}


class Repeating(dict[str, Any]):
    """A record's projection, whose encodings repeat across messages: remember them."""


_PROBE = 32  # bytes that index remembered encodings; shorter records are not remembered
_CANDIDATES = 8  # encodings kept per probe: one user's few sessions, say
_REMEMBERED = 4096  # probes kept before the table starts over (bounded memory)


def remembering(decode: Decoder) -> Decoder:
    """``decode``, answering from earlier decodings when the bytes at ``p`` repeat one."""
    table: dict[bytes, list[tuple[bytes, Any]]] = {}

    def read(d: bytes, p: int) -> tuple[Any, int]:
        probe = d[p : p + _PROBE]
        candidates = table.get(probe)
        if candidates is not None:
            for encoding, value in candidates:
                if d.startswith(encoding, p):
                    return value, p + len(encoding)
        value, end = decode(d, p)
        if end - p >= _PROBE:
            if candidates is None:
                candidates = remember(table, probe, [], _REMEMBERED)
            elif len(candidates) >= _CANDIDATES:
                del candidates[0]
            candidates.append((d[p:end], value))
        return value, end

    return read


class _ProjectingGenerator(_Generator):
    def __init__(self, projection: Projection) -> None:
        super().__init__(timestamps_as_micros=True)
        self._keep: list[Projection] = [projection]
        # Repeating records: the name the projection calls -> source of its decoder.
        self.remembered: dict[str, str] = {}

    def inline_record(self, schema: dict[str, Any], var: str) -> list[str]:
        keep = self._keep[-1]
        if keep is _WHOLE:
            return super().inline_record(schema, var)
        _check_names(schema, keep)
        lines: list[str] = []
        keys = []
        for index, field in enumerate(schema["fields"]):
            wanted = keep.get(field["name"])
            if not wanted:
                lines += skipper(field["type"])
                continue
            self._keep.append(wanted if isinstance(wanted, Mapping) else _WHOLE)
            if isinstance(wanted, Repeating):
                lines += self._remembered(field["type"], f"{var}_{index}")
            else:
                lines += self.decoder(field["type"], f"{var}_{index}")
            self._keep.pop()
            keys.append(f"{field['name']!r}: {var}_{index}")
        lines.append(f"{var} = {{{', '.join(keys)}}}")
        return lines

    def decoder(self, schema: Any, var: str) -> list[str]:
        kind, body = _kind(schema)
        if kind == "record" and body["name"] in self._inlining:
            raise SchemaError("projections of recursive records are not supported")
        return super().decoder(schema, var)

    def _remembered(self, schema: Any, var: str) -> list[str]:
        """A call to the record's own decoder, wrapped by :func:`remembering`."""
        if _kind(schema)[0] != "record":
            raise SchemaError("only records can be Repeating", type=_kind(schema)[0])
        name = f"_remembered{len(self.remembered)}"
        self.remembered[name] = _function(f"{name}_decode", self.decoder(schema, "v"), "v")
        return [f"{var}, p = {name}(d, p)"]


def _function(name: str, body: list[str], result: str) -> str:
    return "\n".join(
        [f"def {name}(d, p):", "    size = len(d)", *_indent(body, 1), f"    return {result}, p"]
    )


def _check_names(schema: dict[str, Any], keep: Projection) -> None:
    unknown = set(keep) - {f["name"] for f in schema["fields"]}
    if unknown:
        raise SchemaError("projection names fields the record lacks", fields=sorted(unknown))


def skipper(schema: Any) -> list[str]:
    """Lines that move ``p`` past one value of ``schema``, checking it as the decoder would."""
    kind, schema = _kind(schema)
    if kind == "null":
        return []
    if kind == "boolean":
        return ["p += 1"]
    if kind in ("int", "long"):
        return [
            "if d[p] < 128:",
            "    p += 1",
            "elif d[p + 1] < 128:",
            "    p += 2",
            "else:",
            "    _, p = read_long(d, p)",
        ]
    if kind in ("double", "float"):
        return [f"p += {8 if kind == 'double' else 4}"]
    if kind in ("string", "bytes"):
        return _string_skipper(check_utf8=kind == "string")
    if kind == "enum":
        count = len(schema["symbols"])
        return [f"if d[p] >> 1 >= {count}:", "    raise IndexError('enum index')", "p += 1"]
    if kind == "fixed":
        return [f"p += {schema['size']}"]
    if kind == "record":
        return [line for field in schema["fields"] for line in skipper(field["type"])]
    if kind in ("array", "map"):
        item = skipper(schema["items"] if kind == "array" else schema["values"])
        key = _string_skipper(check_utf8=True) if kind == "map" else []
        return [*block_loop(), *_indent([*key, *item] or ["pass"], 2)]
    if kind == "union":
        return _union_skipper(schema)
    raise SchemaError("type not supported by the generated codec", type=kind)


def _string_skipper(*, check_utf8: bool) -> list[str]:
    # Lengths of one and two bytes (strings under 8 KiB) inline; zigzag-odd is negative.
    return [
        "b = d[p]",
        "if b < 128:",
        "    p += 1",
        "    e = p + (b >> 1)",
        "elif d[p + 1] < 128:",
        "    b = (b & 127) | (d[p + 1] << 7)",
        "    p += 2",
        "    e = p + (b >> 1)",
        "else:",
        "    n, p = read_long(d, p)",
        "    e = p + n",
        "    b = n < 0",
        "if b & 1 or e > size:",
        "    raise EOFError('string runs past the end')",
        *(["d[p:e].decode()"] if check_utf8 else []),  # what the full decoder would refuse
        "p = e",
    ]


def _union_skipper(branches: list[Any]) -> list[str]:
    # Compares the index's byte (zigzag: 2 x index) instead of shifting it: fewer steps.
    lines = ["i = d[p]", "p += 1"]
    for index, branch in enumerate(branches):
        lines.append(f"{'if' if index == 0 else 'elif'} i < {2 * index + 2}:")
        lines += _indent(skipper(branch) or ["pass"], 1)
    return [*lines, "else:", "    raise ValueError('union index out of range')"]


def projection_decoder(schema: dict[str, Any], projection: Projection) -> Decoder:
    """``decode(data, pos)`` -> (dict of the projected fields, position after the record)."""
    generator = _ProjectingGenerator(projection)
    source = _function("_project", generator.inline_record(schema, "r"), "r")
    source = "\n\n".join([*generator.remembered.values(), source])
    namespace: dict[str, Any] = {
        "read_long": read_long,
        "_DOUBLE": _DOUBLE,
        "_FLOAT": _FLOAT,
        **generator.constants,
    }
    exec(compile(source, f"<avro projection {schema['name']}>", "exec"), namespace)
    for name in generator.remembered:
        namespace[name] = remembering(namespace[f"{name}_decode"])
    decode: Decoder = namespace["_project"]
    return decode
