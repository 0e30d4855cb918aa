"""Reading MCP wire data: ``_meta`` (trace context, client info, AI context) and tool definitions.

Pure functions over wire-shaped dicts (camelCase keys), shared by the proxy and
the SDK middlewares. 2026-07-28 requests carry client info and protocol
version in ``_meta``; older sessions carry them in initialize.

Total over hostile input: every value read from the wire is type-checked, a
value of the wrong type reads as absent, and texts that become identifiers in an
event are bounded (:func:`wire_text`), so no client can make extraction raise or
an event too big for Kafka.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from producers.event.canonical import canonical, digest
from producers.event.model import Annotations

CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
# Identifiers (names, versions, request ids) are short; a longer one is cut, not kept whole,
# so a hostile one cannot push an event past the broker's message size (1 MB).
NAME_LIMIT = 512
TARGET_LIMIT = 8192  # tool and prompt names, and resource URIs, which can be long
_TRACE_PARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_AI_KEYS = {
    "model": "model",
    "reason": "reason",
    "userIntent": "user_intent",
    "user_intent": "user_intent",
}


def wire(model: Any) -> Any:
    """A pydantic MCP model as its wire dict (camelCase, no nulls); anything else as is."""
    dump = getattr(model, "model_dump", None)
    return dump(by_alias=True, mode="json", exclude_none=True) if callable(dump) else model


def wire_text(value: Any, limit: int = NAME_LIMIT) -> str | None:
    """``value`` if it is a string, cut to ``limit`` characters; None otherwise.

    A lone surrogate (lenient JSON parsers accept them) stays: the sealer replaces it
    with U+FFFD and names the field as altered (schemas/repair.py), one rule for all."""
    if not isinstance(value, str):
        return None
    return value[:limit] if len(value) > limit else value


def trace_context(meta: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(trace id, parent span id) from a W3C ``traceparent`` in ``_meta``; Nones when absent
    or not of the W3C form."""
    value = meta.get("traceparent") if meta else None
    if not isinstance(value, str):
        return None, None
    found = _TRACE_PARENT.fullmatch(value)
    return (found[1], found[2]) if found else (None, None)


def ai_context(meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the client said about the model and intent, from ``_meta`` (or ``_meta.ai``)."""
    if not meta:
        return None
    nested = meta.get("ai")
    source: Mapping[str, Any] = nested if isinstance(nested, Mapping) else meta
    found = {ours: source[theirs] for theirs, ours in _AI_KEYS.items() if source.get(theirs)}
    return found or None


def client_info(params: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(name, version) from initialize params or a 2026-07-28 request's ``_meta``."""
    if not params:
        return None, None
    info = params.get("clientInfo")
    if not isinstance(info, Mapping) or not info:
        meta = params.get("_meta")
        info = meta.get(CLIENT_INFO_KEY) if isinstance(meta, Mapping) else None
        if not isinstance(info, Mapping):
            return None, None
    return wire_text(info.get("name")), wire_text(info.get("version"))


def protocol_version(value: Any) -> str | None:
    """A protocol version read from the wire (``YYYY-MM-DD``), or None for any other type."""
    return wire_text(value, 32)


def tool_fingerprint(tool: Mapping[str, Any]) -> str:
    """SHA-256 of a tool definition's canonical description, input schema and annotations."""
    material = {k: tool.get(k) for k in ("description", "inputSchema", "annotations")}
    return digest(canonical(material) or b"")


def annotations_of(tool: Mapping[str, Any]) -> Annotations | None:
    notes = tool.get("annotations")
    if not isinstance(notes, Mapping):
        return None
    return Annotations(
        _hint(notes.get("readOnlyHint")), _hint(notes.get("destructiveHint")),
        _hint(notes.get("idempotentHint")), _hint(notes.get("openWorldHint")),
    )  # fmt: skip


def _hint(value: Any) -> bool | None:
    """A tool annotation hint: a server's non-boolean hint is no hint."""
    return value if isinstance(value, bool) else None
