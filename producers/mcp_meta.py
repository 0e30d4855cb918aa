"""Reading MCP wire data: ``_meta`` (trace context, client info, AI context) and tool definitions.

Pure functions over wire-shaped dicts (camelCase keys), shared by the proxy and
the SDK middlewares. 2026-07-28 requests carry client info and protocol
version in ``_meta``; older sessions carry them in initialize.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.canonical import canonical, digest
from producers.model import Annotations

CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
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


def trace_context(meta: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(trace id, parent span id) from a W3C ``traceparent`` in ``_meta``; Nones when absent."""
    value = meta.get("traceparent") if meta else None
    if not isinstance(value, str):
        return None, None
    parts = value.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None, None
    return parts[1], parts[2]


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
    meta = params.get("_meta") or {}
    info = params.get("clientInfo") or meta.get(CLIENT_INFO_KEY) or {}
    return info.get("name"), info.get("version")


def tool_fingerprint(tool: Mapping[str, Any]) -> str:
    """SHA-256 of a tool definition's canonical description, input schema and annotations."""
    material = {k: tool.get(k) for k in ("description", "inputSchema", "annotations")}
    return digest(canonical(material) or b"")


def annotations_of(tool: Mapping[str, Any]) -> Annotations | None:
    notes = tool.get("annotations")
    if not isinstance(notes, Mapping):
        return None
    return Annotations(
        notes.get("readOnlyHint"), notes.get("destructiveHint"),
        notes.get("idempotentHint"), notes.get("openWorldHint"),
    )  # fmt: skip
