"""Hypothesis strategies that draw any valid record of an Avro schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

_LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_INT = st.integers(min_value=-(2**31), max_value=2**31 - 1)
_TIME = st.integers(min_value=0, max_value=2**50).map(
    lambda us: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
)


def for_schema(schema: Any) -> st.SearchStrategy[Any]:
    if isinstance(schema, list):
        return st.one_of(*(for_schema(branch) for branch in schema))
    if isinstance(schema, str):
        return _primitive(schema)
    kind = schema["type"]
    if schema.get("logicalType") == "timestamp-micros":
        return _TIME
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: for_schema(f["type"]) for f in schema["fields"]})
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(for_schema(schema["items"]), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), for_schema(schema["values"]), max_size=4)
    return _primitive(kind)


def _primitive(name: str) -> st.SearchStrategy[Any]:
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": _INT,
        "long": _LONG,
        "double": st.floats(allow_nan=False),
        "string": st.text(max_size=80),
        "bytes": st.binary(max_size=40),
    }[name]
