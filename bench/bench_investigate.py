"""The dashboard's investigation views on a live (unmerged) store: one event's whole record
and one user's 30-day trail, bar <= 100 ms each at 10 M events (issue 17).

The store is filled as :mod:`bench.bench_panels` fills it (``bench.sink_data`` rows over
30 days in 40 inserts through the keep-first views, then 1% sent again, merges
stopped). ``BENCH_INVESTIGATE_STORE`` keeps it in a directory: filled once, measured
again later. Each question runs ``RUNS`` times on a guarded reader's settings; the
median is reported, with the events it answered.

``python -m bench.bench_investigate`` (``BENCH_INVESTIGATE_ROWS``, default 10,000,000).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from bench import bench_panels
from bench.sink_data import generate_rows_sql
from bench.timing import table
from readside.dashboard import investigate, queries
from readside.dashboard.reading import Window
from readside.dashboard.record import event_record
from readside.guard import QUERY_SETTINGS
from sinks.clickhouse import connect
from sinks.migrate import apply_migrations

ROWS = int(os.environ.get("BENCH_INVESTIGATE_ROWS", "10000000"))
RUNS = int(os.environ.get("BENCH_INVESTIGATE_RUNS", "5"))
BAR_MS = 100.0


def _median_ms(run: Callable[[], Any]) -> tuple[float, float, Any]:
    """Median wall ms and median CPU ms of ``RUNS`` runs, and the last answer. The store is
    embedded (chDB runs in this process), so the process's CPU time is the question's own
    work, whatever else the machine runs; the wall time is what the analyst waits."""
    walls, cpus, answer = [], [], None
    for _ in range(RUNS):
        started, cpu = time.perf_counter(), time.process_time()
        answer = run()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus), answer


# A producer's event id is a UUIDv7 of the event's own time (producers.event.chain: one now_ns
# for both); bench.sink_data's generateUUIDv7(n) takes the time of the fill. Here the
# id carries the event's millisecond, as the producers' do: the record is looked up by it.
_FILL_ID = "generateUUIDv7(n), ts,"
_PRODUCER_ID = (
    "toUUID(concat(substring(id_h, 1, 8), '-', substring(id_h, 9, 4), '-7',"
    " substring(id_r, 1, 3), '-', ['8', '9', 'a', 'b'][1 + n % 4], substring(id_r, 4, 3), '-',"
    " substring(id_r, 7, 12))), ts,"
)
_ID_PARTS = (
    "leftPad(lower(hex(toUnixTimestamp64Milli(ts))), 12, '0') AS id_h,"
    " concat(lower(hex(cityHash64(n, 9))), lower(hex(cityHash64(n, 10)))) AS id_r, "
)


def _rows_sql(rows: int, start: int, count: int, into: str) -> str:
    sql = generate_rows_sql(rows, start, count, into)
    assert sql.count(_FILL_ID) == 1 and sql.count("toDateTime64(now()") == 1, "sink_data changed"
    sql = sql.replace(_FILL_ID, _PRODUCER_ID)
    return sql.replace("toDateTime64(now()", _ID_PARTS + "toDateTime64(now()", 1)


def fill(client: Client) -> str:
    """The unmerged store of :mod:`bench.bench_panels`, at ``ROWS`` events, with event ids
    as producers make them (:func:`_rows_sql`)."""
    bench_panels.ROWS = ROWS
    bench_panels.generate_rows_sql = _rows_sql  # type: ignore[assignment]
    started = time.monotonic()
    bench_panels._fill(client)
    bench_panels._replay(client)
    return f"filled in {time.monotonic() - started:.0f} s"


def measure(client: Client, filling: str) -> str:
    stored, parts = client.query(
        "SELECT count(), (SELECT count() FROM system.parts WHERE database = currentDatabase()"
        " AND table = 'audit_events' AND active) FROM audit_events"
    ).result_rows[0]
    # A replayed event (two stored versions) and a busy user: the harder cases.
    event_id, user = client.query(
        "SELECT toString(event_id), user_id FROM audit_events"
        " WHERE cityHash64(event_id) % 400 = 1 AND event_time > now() - INTERVAL 20 DAY LIMIT 1"
    ).result_rows[0]
    now = datetime.now(UTC)
    window = Window(now - timedelta(days=30), now)
    rows = []
    for name, run in {
        "one event's whole record": lambda: event_record(client, event_id),
        "one user's 30-day trail": lambda: investigate.user_trail(client, user, window),
        "one alert's evidence (10 events)": lambda: investigate.events_by_id(
            client, _some_ids(client, 10)
        ),
        # The starting code's answers to the nearest questions (readside/dashboard/queries.py
        # as at main: the row alone, found by the bloom filter; the trail's rows alone).
        "starting code: one event's row": lambda: queries.event_record(client, event_id),
        "starting code: one user's 30-day rows": lambda: queries.user_trail(
            client, user, window.since, 100_000
        ),
    }.items():
        took, cpu, answer = _median_ms(run)
        verdict = "yes" if took <= BAR_MS else "NO"
        rows.append([name, f"{took:.1f}", f"{cpu:.1f}", _size(answer), verdict])
    load = os.getloadavg()[0]
    return (
        f"## Investigation views\n\n{ROWS:,} events over 30 days ({stored:,} rows stored,"
        f" {parts} active parts of audit_events, merges stopped); {filling}. Median of {RUNS};"
        f" load average {load:.1f} on {os.cpu_count()} cores when measured.\n\n"
        + table(["question", "wall ms", "CPU ms", "answer", f"wall <= {BAR_MS:.0f} ms"], rows)
    )


def _some_ids(client: Client, count: int) -> list[str]:
    found = client.query(
        "SELECT toString(event_id) FROM audit_events WHERE cityHash64(event_id) % 1000 = 7"
        f" LIMIT {count}"
    ).result_rows
    return [str(r[0]) for r in found]


def _size(answer: Any) -> str:
    if isinstance(answer, dict) and "total" in answer:
        return f"{answer['total']:,} events in {len(answer['sessions']):,}+ sessions"
    if isinstance(answer, list):
        return f"{len(answer):,} events"
    return "found" if answer else "not found"


def main() -> str:
    kept = os.environ.get("BENCH_INVESTIGATE_STORE")
    with tempfile.TemporaryDirectory() as tmp:
        client = connect(f"chdb://{kept or tmp}/chdb", "bench_investigate", **QUERY_SETTINGS)
        apply_migrations(client)
        if client.command("SELECT count() FROM audit_events"):
            client.command("SYSTEM STOP MERGES")
            return measure(client, "the store of an earlier run, partly merged since")
        filling = fill(client)
        return measure(client, filling)


if __name__ == "__main__":
    print(main())
