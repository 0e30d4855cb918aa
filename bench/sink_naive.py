"""The baseline the sink is measured against: a decoded record flattened to a row in Python.

Bench-only. It reads the same column mapping as the real sink (sinks.tables)
so both paths store the same values.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sinks.enriched import ENRICHED, HASH_VERSION

_PATH = re.compile(r"`([^`]+)`")
_ELEMENT = re.compile(r"tupleElement\(`[^`]+`, '([a-z_]+)'\)")
_DEFAULT = re.compile(r", (''|\[\]|0)\)")
_DEFAULTS = {"''": "", "[]": [], "0": 0}


def _getter(name: str, expression: str) -> Any:
    path = _PATH.search(expression)
    assert path, name
    keys = path[1].split(".")
    element = _ELEMENT.search(expression)
    default_match = _DEFAULT.search(expression)
    default = _DEFAULTS[default_match[1]] if default_match else ""

    def get(record: dict[str, Any]) -> Any:
        node: Any = record
        for key in keys:
            node = node.get(key) if node is not None else None
        if element and node is not None:
            node = node.get(element[1])
        if node is None:
            return None if element and not default_match else default
        return node

    return get


def _column_getters() -> list[Any]:
    getters = []
    for name, expression in ENRICHED.columns:
        if name == "heartbeat":
            getters.append(lambda r: r["event"]["heartbeat"] or {})
        elif name == "event_id":
            getters.append(lambda r: uuid.UUID(r["event"]["event_id"]))
        elif name == "hash_version":  # a constant of the sink's, not a field of the record
            getters.append(lambda r: HASH_VERSION)
        elif name == "anomalies":
            getters.append(lambda r: [tuple(a.values()) for a in r["anomalies"]])
        else:
            getters.append(_getter(name, expression))
    return getters


_GETTERS = _column_getters()


def naive_row(record: dict[str, Any]) -> list[Any]:
    return [get(record) for get in _GETTERS]
