"""Canonical JSON and its digest: what an auditor holding the original can recompute.

Canonical form is compact JSON with sorted keys (``json.dumps(v, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` gives the same bytes for JSON data).
Values that are not JSON (cycles, huge ints, objects) have no canonical form;
their digest covers the redactor's sanitised form instead, and never raises.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic results, e.g. MCP CallToolResult
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(type(value).__name__)


def canonical(value: Any) -> bytes | None:
    """Canonical JSON bytes, or None when ``value`` is not representable as JSON."""
    try:
        return orjson.dumps(value, default=_fallback, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError, RecursionError):
        return None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
