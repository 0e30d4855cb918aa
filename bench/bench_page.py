"""The dashboard's 30-day page in a real browser, over the store bench_panels filled.

Headless Chromium (as tests/readside/dashboard/test_dashboard_browser.py drives it)
opens the dashboard served by this tree over ``BENCH_PANEL_STORE`` (kept by a run of
``bench.bench_panels``), waits for the first load, then switches the window to 30
days and times, with the page's own clock, from the switch to the end of the panels'
response (every panel, one request) and to the next frame drawn after it. Median of
``RUNS``.

``BENCH_PANEL_STORE=/path python -m bench.bench_page``; ``BENCH_PAGE_DATABASE=bench_investigate``
reads the store a run of ``bench.bench_investigate`` kept instead (the same rows).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp_audit.embedded.broker import free_port
from readside.dashboard.app import build_app
from readside.session import ReadSide
from readside.settings import ReadSettings
from readside.tokens import Tokens
from sinks.clickhouse import connect
from sinks.settings import SinkSettings
from tests.conftest import chromium, serving

RUNS = int(os.environ.get("BENCH_PAGE_RUNS", "3"))
DATABASE = os.environ.get("BENCH_PAGE_DATABASE", "bench_panels")
_SWITCH = """
window.benchStart = performance.now();
const hours = document.getElementById("hours");
hours.value = arguments[0];
hours.dispatchEvent(new Event("change"));
"""
# The panels' response of this switch: its end on the page's clock, or null until then.
_ANSWERED = """
const page = performance.getEntriesByType("resource").filter(
    r => r.name.includes("/api/page") && r.startTime >= window.benchStart);
return page.length && page.every(r => r.responseEnd > 0)
    ? Math.max(...page.map(r => r.responseEnd)) - window.benchStart : null;
"""
_DRAWN = """
const done = arguments[arguments.length - 1];
const since = () => done(performance.now() - window.benchStart);
requestAnimationFrame(() => requestAnimationFrame(since));
"""


def _wait(browser: Any, script: str, *args: Any) -> Any:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = browser.execute_script(script, *args)
        if found:
            return found
        time.sleep(0.02)
    raise TimeoutError(script)


def _switch(browser: Any, hours: str) -> tuple[float, float]:
    """Milliseconds from choosing ``hours`` to the panels' answer, and to the frame after it."""
    browser.execute_script(_SWITCH, hours)
    answered = float(_wait(browser, _ANSWERED))
    drawn = float(browser.execute_async_script(_DRAWN))
    return answered, drawn


def main() -> str:
    store = os.environ["BENCH_PANEL_STORE"]
    url = f"chdb://{store}/chdb"
    client = connect(url, DATABASE)
    client.command("SYSTEM STOP MERGES")  # as bench_panels left it (it does not persist)
    limits = ReadSettings.load(environ={}, max_execution_s=60, concurrency=2)
    side = ReadSide(client, SinkSettings.load(environ={}, clickhouse_url=url, database=DATABASE),
                    limits)  # fmt: skip
    events = client.command("SELECT count() FROM audit_events")
    with tempfile.TemporaryDirectory() as tmp:
        tokens = Tokens(Path(tmp) / "tokens.json")
        port = free_port()
        try:
            with serving(build_app(side, tokens, port), port) as base, chromium() as browser:
                browser.get(f"{base}#token={tokens.ensure('bench')}")
                _wait(browser, "return document.body.dataset.loaded === 'true'")
                runs = []
                for _ in range(RUNS):
                    _switch(browser, "24")
                    runs.append(_switch(browser, "720"))
        finally:
            side.close()
    answered = statistics.median(r[0] for r in runs)
    drawn = statistics.median(r[1] for r in runs)
    return (
        f"## The 30-day page in the browser\n\n{events:,} stored events (the {DATABASE}"
        f" store). Switching the window to 30 days: the panels' answer (every panel, one"
        f" request) after {answered:,.0f} ms, the page drawn after {drawn:,.0f} ms (median"
        f" of {RUNS}; runs {', '.join(f'{d:,.0f}' for _, d in runs)} ms). Bar: <= 1 s."
    )


if __name__ == "__main__":
    print(main())
