"""The dashboard in a real browser: headless Chromium loads it over a store holding known events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from sinks.dashboard.app import build_app
from tests.conftest import serving
from tests.sinks.dashboard.store import create_tables, insert_alert, insert_event

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
def dashboard_url(known_store: Client) -> Iterator[str]:
    lock = threading.Lock()

    def run(query: Any) -> Any:
        with lock:
            return query(known_store)

    with serving(build_app(run)) as url:
        yield url


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
    assert len(js("return [...document.querySelectorAll('#events tbody tr')]")) == 9

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
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
            ".map(tr => tr.children[1].textContent)"
        )
        if users and set(users) == {"mallory"}:
            break
        time.sleep(0.1)
    assert users == ["mallory"] * 3
