"""The dashboard's web app: the page, and the JSON answers behind it, each one recorded.

Every request first passes :func:`readside.web.check_request` (Host, cross-site).
The page and its static files carry no data and need no credential; every
``/api`` answer needs the operator's token as ``Authorization: Bearer`` (the
page takes it from the link ``up`` prints, ``/#token=...``: a fragment never
reaches a server log or a ``Referer``) and runs through the operator's
:class:`~readside.session.ReadSession`. A whole page load is one answer
(``/api/page``) and so one AUDIT_ACCESS record, not one per panel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from readside.dashboard import investigate, params, queries
from readside.dashboard.params import BadRequest
from readside.dashboard.record import event_record
from readside.errors import NotAuthenticatedError, ReadSideError, RequestRefusedError
from readside.session import ReadSide
from readside.tokens import Tokens
from readside.web import allowed_hosts, bearer, check_request
from sinks.signing import PUBLIC_NAME, load_public_key

STATIC = Path(__file__).parent / "static"
Answer = Callable[[Client], Any]
# Scripts from this origin only; inline styles are the chart legend's swatches.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
       " frame-ancestors 'none'")  # fmt: skip


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


def build_app(side: ReadSide, tokens: Tokens, port: int) -> Starlette:
    """The dashboard app over ``side``, served on 127.0.0.1:``port``."""
    hosts = allowed_hosts(port)

    def api(action: str, answer: Callable[[Request], Answer]) -> Any:
        async def handle(request: Request) -> Response:
            try:
                operator = tokens.operator(bearer(request.headers.get("authorization", "")))
            except NotAuthenticatedError as exc:
                side.session("unauthenticated", via="dashboard").refused(action, exc)
                return JSONResponse({"error": str(exc)}, status_code=401)
            session = side.session(operator, via="dashboard")
            try:
                query = answer(request)
            except BadRequest as exc:
                session.refused(action, exc, query=str(request.query_params))
                return JSONResponse({"error": str(exc)}, status_code=400)
            try:
                data = await run_in_threadpool(
                    session.read, action, query, query=str(request.query_params)
                )
            except ReadSideError as exc:
                return JSONResponse({"error": str(exc)}, status_code=503)
            return JSONResponse(data)

        return handle

    def page(request: Request) -> Answer:
        since, bucket = _since(request), _int(request, "bucket", 15, 1440)
        return lambda client: queries.page(client, since, bucket)

    def search(request: Request) -> Answer:
        filters: dict[str, Any] = {
            k: v for k, v in request.query_params.items() if k in queries.SEARCH_FILTERS and v
        }
        if "min_risk" in filters:
            filters["min_risk"] = _int(request, "min_risk", 0, 100)
        if "until" in filters:
            filters["until"] = _timestamp(filters["until"])
        since, limit = _since(request), _int(request, "limit", 100, 1000)
        return lambda c: queries.search(c, since, filters, limit)

    key_path = side.sink.signing_key_dir / PUBLIC_NAME  # checks tree heads' signatures
    public_key = load_public_key(key_path) if key_path.exists() else None

    def find(request: Request) -> Answer:
        q = request.query_params
        params.only(q, params.SEARCH)
        window, found = params.window(q), params.filters(q)
        limit, noise = params.integer(q, "limit", 200, 1000), params.flag(q, "noise")
        return lambda c: investigate.search(c, window, found, limit, noise=noise)

    def alert(request: Request) -> Answer:
        params.only(request.query_params, frozenset({"id"}))
        alert_id = params.uuid(request.query_params, "id")
        return lambda c: investigate.alert_evidence(c, alert_id, 500)

    def trail(request: Request) -> Answer:
        q = request.query_params
        params.only(q, params.WINDOW | {"user"})
        user, window = params.text(q, "user", required=True) or "", params.window(q)
        return lambda c: investigate.user_trail(c, user, window, 500)

    def record(request: Request) -> Answer:
        params.only(request.query_params, frozenset({"id"}))
        event_id = params.uuid(request.query_params, "id")
        return lambda c: event_record(c, event_id, public_key)

    routes = [
        Route("/", lambda _: FileResponse(STATIC / "index.html")),
        Route("/api/page", api("dashboard-page", page)),
        Route("/api/events", api("dashboard-search", search)),
        # The investigation (readside.dashboard.investigate); each answer one recorded access.
        Route("/api/search", api("dashboard-find", find)),
        Route("/api/alert", api("dashboard-alert", alert)),
        Route("/api/user", api("dashboard-user", trail)),
        Route("/api/event", api("dashboard-event", record)),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]

    async def doors(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Any:
        try:
            check_request(request.headers, hosts)
        except RequestRefusedError as exc:
            return PlainTextResponse(str(exc), status_code=403)
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("the dashboard only reads", status_code=405)
        response = await call_next(request)
        response.headers["X-Frame-Options"] = "DENY"  # no framing by a hostile page
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=doors)])


def _timestamp(raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest("not an ISO timestamp", parameter="until", value=raw) from exc
