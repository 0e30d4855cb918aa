"""The dashboard's web app: the page, and one JSON endpoint per question in :mod:`queries`.

The app holds no client of its own: it is given a function that runs a query
function with the store's client, so the process that owns the embedded store
(chDB allows one) serialises access to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from schemas.errors import McpAuditError
from sinks.dashboard import queries

STATIC = Path(__file__).parent / "static"
RunQuery = Callable[[Callable[[Client], Any]], Any]


class BadRequest(McpAuditError):
    """A dashboard request whose parameters are malformed."""


def _int(request: Request, name: str, default: int, upper: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 < int(raw) <= upper:
        raise BadRequest("parameter out of range", parameter=name, value=raw, upper=upper)
    return int(raw)


def _since(request: Request) -> datetime:
    hours = _int(request, "hours", 24, 24 * 366)
    return datetime.now(UTC) - timedelta(hours=hours)


def build_app(run: RunQuery) -> Starlette:
    """The dashboard app; ``run(fn)`` must call ``fn(client)`` and return its result."""

    def endpoint(answer: Callable[[Request], Callable[[Client], Any]]) -> Any:
        async def handle(request: Request) -> Response:
            try:
                query = answer(request)
            except BadRequest as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse(run(query))

        return handle

    def search(request: Request) -> Callable[[Client], Any]:
        filters: dict[str, Any] = {
            k: v for k, v in request.query_params.items() if k in queries.SEARCH_FILTERS and v
        }
        if "min_risk" in filters:
            filters["min_risk"] = _int(request, "min_risk", 0, 100)
        if "until" in filters:
            filters["until"] = _timestamp(filters["until"])
        since, limit = _since(request), _int(request, "limit", 100, 1000)
        return lambda c: queries.search(c, since, filters, limit)

    routes = [
        Route("/", lambda _: FileResponse(STATIC / "index.html")),
        Route("/api/summary", endpoint(lambda r: _bind(queries.summary, _since(r)))),
        Route(
            "/api/calls",
            endpoint(
                lambda r: _bind(queries.calls_over_time, _since(r), _int(r, "bucket", 5, 1440))
            ),
        ),
        Route("/api/tools", endpoint(lambda r: _bind(queries.tools, _since(r)))),
        Route("/api/risk", endpoint(lambda r: _bind(queries.risk_distribution, _since(r)))),
        Route(
            "/api/users",
            endpoint(lambda r: _bind(queries.top_users, _since(r), _int(r, "limit", 10, 100))),
        ),
        Route("/api/alerts", endpoint(lambda r: _bind(queries.alerts, _int(r, "limit", 50, 500)))),
        Route("/api/events", endpoint(search)),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    return Starlette(routes=routes)


def _bind(fn: Callable[..., Any], *args: Any) -> Callable[[Client], Any]:
    return lambda client: fn(client, *args)


def _timestamp(raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest("not an ISO timestamp", parameter="until", value=raw) from exc
