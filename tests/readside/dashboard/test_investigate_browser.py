"""The investigation clicked through in a real headless Chromium, over a store the pipeline
wrote and the sealer sealed: alert -> evidence -> user trail -> event record, search,
the brush, the heartbeat toggle, and deep links restored on reload.

What is checked: each view's DOM (rows, cells, check marks, the URL), and for each a
screenshot saved as PNG (``MCP_AUDIT_SCREENSHOTS`` names a directory to keep them; else
the test's tmp dir), checked to be a PNG of real size taken while the page's visible
text (``innerText``) held the view's expected words.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from readside.tokens import Tokens
from tests.readside.dashboard.investigation_store import (
    ALICE,
    MALLORY,
    Investigation,
    served,
)

pytestmark = [pytest.mark.clickhouse, pytest.mark.slow]


@pytest.fixture
def url(inv: Investigation, clickhouse_url: str, tokens: Tokens) -> Iterator[str]:
    """The dashboard's base URL; the browser signs in with ``up``'s link first."""
    with served(inv, clickhouse_url, tokens) as (_, base):
        yield base


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    kept = os.environ.get("MCP_AUDIT_SCREENSHOTS")
    directory = Path(kept) if kept else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _signed_in(browser: Any, url: str, tokens: Tokens) -> None:
    browser.get(f"{url}#token={tokens.ensure('alice')}")
    _wait(browser, "overview")


def _wait(browser: Any, view: str, until: str = "true") -> None:
    """Until the page shows ``view``, loaded, and the JS expression ``until`` holds."""
    deadline = time.monotonic() + 20
    ready = (
        f"return document.body.dataset.view === '{view}'"
        f" && document.body.dataset.loaded === 'true' && ({until})"
    )
    while time.monotonic() < deadline:
        if browser.execute_script(ready):
            return
        time.sleep(0.1)
    raise AssertionError(f"view {view} never showed ({until}); at {browser.current_url}")


def _wait_for(browser: Any, condition: str) -> None:
    deadline = time.monotonic() + 20
    while not browser.execute_script(f"return {condition}"):
        assert time.monotonic() < deadline, condition
        time.sleep(0.1)


def _text(browser: Any) -> str:
    return str(browser.execute_script("return document.body.innerText"))


def _shot(browser: Any, shots: Path, name: str, expected: list[str]) -> None:
    text = _text(browser)
    missing = [word for word in expected if word not in text]
    assert not missing, f"{name}: {missing} not on the page"
    path = shots / f"{name}.png"
    assert browser.save_screenshot(str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, (name, len(data))


def _rows(browser: Any, table: str, cell: int) -> list[str]:
    return list(browser.execute_script(
        f"return [...document.querySelectorAll('#{table} tbody tr')]"
        f".map(tr => tr.children[{cell}].textContent)"))  # fmt: skip


def _click(browser: Any, css: str) -> None:
    browser.find_element("css selector", css).click()


def test_alert_to_evidence_to_user_to_event_record(
    browser: Any, url: str, tokens: Tokens, inv: Investigation, shots: Path
) -> None:
    _signed_in(browser, url, tokens)
    _shot(browser, shots, "overview", ["Calls over time", "destructive_burst", "Event search"])

    _click(browser, f"#alerts li[data-alert-id='{inv.alert_id}'] a")
    _wait(browser, "alert", "document.querySelectorAll('#alert-events tbody tr').length === 2")
    assert browser.current_url.endswith(f"#/alert/{inv.alert_id}")
    assert _rows(browser, "alert-events", 4) == ["delete_records"] * 2
    assert _rows(browser, "alert-events", 5) == ["ERROR"] * 2
    _shot(browser, shots, "alert", ["destructive_burst", "mallory deleted twice",
                                    "2 events the detector named"])  # fmt: skip

    _click(browser, "#alert-events tbody tr td:nth-child(3) a")  # the user's pseudonym
    _wait(browser, "user", "document.querySelectorAll('#user-tools tbody tr').length === 1")
    assert f"#/user/{MALLORY}" in browser.current_url
    tiles = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#user-summary .tile')]"
        ".map(t => [t.dataset.name, t.querySelector('b').textContent]))"
    )
    assert tiles == {"events": "4", "calls": "2", "failures": "2", "high-risk": "2",
                     "sessions": "1", "tools": "1"}  # fmt: skip
    assert _rows(browser, "user-tools", 0) == ["delete_records"]
    assert _rows(browser, "user-sessions", 3) == ["2"]
    _shot(browser, shots, "user", [MALLORY, "Sessions", "delete_records"])

    result = inv.by(call_id="call-mallory-0", phase="RESULT")[0]["event_id"]  # not the last
    _click(browser, f"#user-events tbody tr[data-event-id='{result}'] td:first-child a")
    _wait(browser, "event", "document.querySelectorAll('#event-checks li').length >= 5")
    assert browser.current_url.endswith(f"#/event/{result}")
    checks = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#event-checks li[data-check]')]"
        ".map(li => [li.dataset.check, li.className]))"
    )
    assert checks == {"hash": "ok", "previous": "ok", "next": "ok", "row": "ok", "sealed": "ok"}
    field = "return document.querySelector('#{} [data-field=\"{}\"]').textContent"
    assert browser.execute_script(field.format("side-a", "phase")) == "ATTEMPT"
    assert browser.execute_script(field.format("side-b", "phase")) == "RESULT"
    assert browser.execute_script(field.format("side-b", "event_id")) == result
    assert "[REDACTED]" in browser.execute_script(field.format("side-b", "args"))
    assert "destructive tool" in browser.execute_script(field.format("side-b", "risk_reasons"))
    assert "HIPAA" in browser.execute_script(field.format("side-b", "compliance_tags"))
    assert "first_seen_tool" in browser.execute_script(field.format("side-b", "anomalies"))
    assert browser.execute_script(field.format("side-b", "classification")) == "HIGH"
    _shot(browser, shots, "event", ["ATTEMPT", "RESULT", "chain hash: ✔ verifies",
                                    "sealed log: ✔ verifies", "[REDACTED]", "HIPAA"])  # fmt: skip

    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_deep_links_restore_every_view(
    browser: Any, url: str, tokens: Tokens, inv: Investigation, shots: Path
) -> None:
    _signed_in(browser, url, tokens)
    event = inv.by(call_id="call-alice-0", phase="RESULT")[0]["event_id"]
    rows = "document.querySelectorAll('#{} tbody tr').length === {}".format
    views = {
        f"#/event/{event}": ("event", "document.querySelectorAll('#event-checks li').length >= 5"),
        f"#/user/{ALICE}?hours=720": ("user", rows("user-tools", 2)),
        f"#/alert/{inv.alert_id}": ("alert", rows("alert-events", 2)),
        "#/search?call=call-alice-2&hours=168": ("search", rows("events", 2)),
    }
    for link, (view, ready) in views.items():
        browser.get(url + link)  # pasted into the address bar of the signed-in tab
        _wait(browser, view, ready)
        browser.refresh()  # and reloaded
        _wait(browser, view, ready)
        assert browser.current_url.endswith(link)
    # The search's deep link restored its form and its window too.
    assert browser.execute_script("return document.querySelector('[name=call]').value") == (
        "call-alice-2"
    )
    assert browser.execute_script("return document.getElementById('hours').value") == "168"
    _shot(browser, shots, "deep-link-search", ["last 168 h", "TOOL_CALL"])

    # Pasted into a tab that holds no token: the page asks for it, then opens the view.
    browser.execute_script("sessionStorage.clear()")
    link, (view, ready) = next(iter(views.items()))
    browser.get(url + link)
    browser.refresh()
    _wait_for(browser, "document.body.dataset.unauthenticated === 'true'")
    assert browser.find_element("id", "signin").is_displayed()
    browser.find_element("id", "signin-token").send_keys(tokens.ensure("alice"))
    _click(browser, "#signin-form button")
    _wait(browser, view, ready)
    assert browser.current_url.endswith(link)


def test_search_by_id_and_a_custom_range(
    browser: Any, url: str, tokens: Tokens, inv: Investigation, shots: Path
) -> None:
    _signed_in(browser, url, tokens)
    browser.find_element("name", "trace").send_keys("0af7651916cd43dd8448eb211c80319c")
    _click(browser, "#search button[type=submit]")
    _wait(browser, "search", "document.querySelectorAll('#events tbody tr').length === 4")
    assert "trace=0af7651916cd43dd8448eb211c80319c" in browser.current_url
    assert set(_rows(browser, "events", 4)) == {"delete_records"}
    _shot(browser, shots, "search-trace", ["delete_records", "TOOL_CALL"])

    # A custom range that ends before the events: nothing; one that holds them: all four.
    start = inv.start.strftime("%Y-%m-%dT%H:%M:%S")
    for later, count in ((timedelta(seconds=30), 0), (timedelta(hours=1), 4)):
        ends = (inv.start + later).strftime("%Y-%m-%dT%H:%M:%S")
        browser.execute_script(
            "document.getElementById('hours').value = 'custom';"
            "document.getElementById('hours').dispatchEvent(new Event('change'));"
            f"document.getElementById('range-from').value = '{start}';"
            f"document.getElementById('range-to').value = '{ends}';"
        )  # the events are minutes 1-13 after the hour-aligned start
        _click(browser, "#range-apply")
        _wait(browser, "search", f"document.querySelectorAll('#events tbody tr').length === {count}"
              " && location.hash.includes('from=')")  # fmt: skip
    assert f"from={start[:16]}" in browser.current_url.replace("%3A", ":")  # seconds: :00 dropped
    _shot(browser, shots, "search-custom-range", ["UTC", "delete_records"])


def test_heartbeats_and_session_events_are_one_click_away(
    browser: Any, url: str, tokens: Tokens, inv: Investigation, shots: Path
) -> None:
    _signed_in(browser, url, tokens)
    _wait(browser, "overview", "document.querySelectorAll('#events tbody tr').length > 0")
    types = set(_rows(browser, "events", 1))
    assert "HEARTBEAT" not in types and "SESSION_START" not in types and "TOOL_CALL" in types
    _click(browser, "#noise")
    _wait(browser, "search", "location.hash.includes('noise=1')")
    types = set(_rows(browser, "events", 1))
    assert {"HEARTBEAT", "SESSION_START", "TOOL_CALL"} <= types
    _shot(browser, shots, "search-noise", ["HEARTBEAT", "SESSION_START"])


def test_brushing_the_calls_chart_searches_that_range(
    browser: Any, url: str, tokens: Tokens, inv: Investigation, shots: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    _signed_in(browser, url, tokens)
    chart = browser.find_element("css selector", "#calls-chart")
    width = chart.size["width"]
    actions = ActionChains(browser)
    # From near the left edge to near the right edge (offsets from the chart's centre).
    actions.move_to_element_with_offset(chart, -width // 2 + 5, 0).click_and_hold()
    actions.move_by_offset(width - 10, 0).release().perform()
    _wait(browser, "search", "location.hash.includes('from=') && location.hash.includes('to=')"
          " && document.querySelectorAll('#events tbody tr').length > 0")  # fmt: skip
    assert browser.execute_script("return document.getElementById('hours').value") == "custom"
    bucket = inv.start.strftime("%Y-%m-%dT%H:%M:%S")
    assert f"from={bucket}" in browser.current_url.replace("%3A", ":")
    # Every call of that bucket (ten events: ATTEMPTs and RESULTs); no heartbeat.
    assert _rows(browser, "events", 1).count("TOOL_CALL") == 10
    _shot(browser, shots, "brush", ["UTC", "TOOL_CALL"])
