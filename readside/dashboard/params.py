"""The investigation's request parameters, read strictly: one value each, bounded, typed.

A parameter given twice, too long, of the wrong form or out of range is refused
(:class:`BadRequest`, a 400 the session records) before any query is built; the
values then reach the store only as bound parameters (:mod:`readside.dashboard.investigate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from uuid import UUID

from starlette.datastructures import QueryParams

from readside.dashboard.investigate import RISK_LEVELS, SEARCH_FIELDS
from readside.dashboard.reading import Window
from schemas.errors import McpAuditError
from schemas.models import EventType, Status

MAX_TEXT = 256  # ids, names and pseudonyms are far shorter; longer is not one of them
MAX_HOURS = 24 * 366
# Search values that must be one of a closed set.
CHOICES: Mapping[str, frozenset[str]] = {
    "status": frozenset(Status),
    "type": frozenset(EventType),
    "risk": frozenset(RISK_LEVELS),
}


class BadRequest(McpAuditError):
    """A dashboard request whose parameters are malformed."""


WINDOW = frozenset({"hours", "from", "to"})
SEARCH = frozenset({*SEARCH_FIELDS, *WINDOW, "limit", "noise"})


def only(params: QueryParams, allowed: frozenset[str]) -> None:
    """Refuse a parameter the endpoint does not take (a typo would otherwise widen a search)."""
    unknown = sorted(set(params.keys()) - allowed)
    if unknown:
        raise BadRequest("unknown parameter", parameter=unknown[0][:40])


def text(params: QueryParams, name: str, required: bool = False) -> str | None:
    """The one value of ``name`` (None if absent or empty, unless ``required``)."""
    values = params.getlist(name)
    if len(values) > 1:
        raise BadRequest("parameter given more than once", parameter=name, count=len(values))
    value = values[0] if values else ""
    if len(value) > MAX_TEXT:
        raise BadRequest("parameter too long", parameter=name, length=len(value), upper=MAX_TEXT)
    if "\x00" in value:
        raise BadRequest("parameter holds a NUL character", parameter=name)
    if not value:
        if required:
            raise BadRequest("parameter missing", parameter=name)
        return None
    return value


def integer(params: QueryParams, name: str, default: int, upper: int) -> int:
    raw = text(params, name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= upper:
        raise BadRequest("parameter out of range", parameter=name, upper=upper)
    return int(raw)


def uuid(params: QueryParams, name: str) -> str:
    raw = text(params, name, required=True)
    try:
        return str(UUID(raw))
    except (ValueError, TypeError) as exc:
        raise BadRequest("parameter is not a UUID", parameter=name) from exc


def timestamp(params: QueryParams, name: str) -> datetime | None:
    raw = text(params, name)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest("parameter is not an ISO 8601 time", parameter=name) from exc
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if not 1970 <= when.year <= 2200:
        raise BadRequest("parameter out of range", parameter=name)
    return when.astimezone(UTC)


def window(params: QueryParams, now: datetime | None = None) -> Window:
    """``from``/``to`` (ISO 8601; naive is UTC) if given, else the last ``hours`` (24)."""
    now = now or datetime.now(UTC)
    until = timestamp(params, "to") or now
    since = timestamp(params, "from")
    if since is None:
        since = until - timedelta(hours=integer(params, "hours", 24, MAX_HOURS))
    if not since < until:
        raise BadRequest("the time range ends before it starts", parameter="from")
    if until - since > timedelta(hours=MAX_HOURS):
        raise BadRequest("the time range is longer than a year", parameter="from")
    return Window(since, until)


def filters(params: QueryParams) -> dict[str, str]:
    """The search's filters present in ``params``, each checked."""
    found = {}
    for name in SEARCH_FIELDS:
        value = text(params, name)
        if value is None:
            continue
        if name in CHOICES and value not in CHOICES[name]:
            raise BadRequest("parameter is not one of its values", parameter=name)
        found[name] = value
    return found


def flag(params: QueryParams, name: str) -> bool:
    value = text(params, name)
    if value not in (None, "0", "1"):
        raise BadRequest("parameter is not 0 or 1", parameter=name)
    return value == "1"
