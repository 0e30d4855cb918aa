"""``mcp-audit verify`` over a large sealed store: events/s, this tree against a baseline tree.

One store is built once (valid hash chains over 40 streams and ten days, sealed
by this tree's sealer), then ``verify --quiet`` runs on it alternately from this
tree and from a baseline worktree (``BENCH_BASE``, default /work/wt-tamper-base, made
with ``git worktree add`` at 8332778, the commit before issue 14's origin MACs), each in
a fresh process (chDB lets one process hold a data directory). The baseline checks the chains
only; this tree checks the chains and the sealed log. Both exit 0 on this store.

``BENCH_VERIFY_EVENTS`` sets the store's size (default 1,000,000);
``BENCH_VERIFY_TIMEOUT_S`` each child's time limit (default 1800).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.timing import table

ROOT = Path(__file__).parent.parent
BASE = Path(os.environ.get("BENCH_BASE", "/work/wt-tamper-base"))
EVENTS = int(os.environ.get("BENCH_VERIFY_EVENTS", "1000000"))
STREAMS = 40
ROUNDS = int(os.environ.get("BENCH_VERIFY_ROUNDS", "2"))
TIMEOUT_S = float(os.environ.get("BENCH_VERIFY_TIMEOUT_S", "1800"))  # per child; 10 M needs more
DATABASE = "bench_verify"


def build(url: str, keys: str, count_text: str) -> dict[str, float]:
    """In a child process: store ``count`` chained events, then seal them."""
    from schemas.integrity import chain_hash
    from sinks.clickhouse import connect
    from sinks.enriched import ENRICHED, HASH_VERSION
    from sinks.migrate import apply_migrations
    from sinks.sealing import sealer_from_settings
    from sinks.settings import SinkSettings

    count = int(count_text)
    client = connect(url, DATABASE)
    apply_migrations(client)
    columns = [
        "event_id", "event_time", "event_type", "phase", "call_id", "user_id",
        "pseudonym_key_id", "client_id", "session_id", "tenant_id", "server_id", "tool_name",
        "classification", "args_digest", "status", "duration_us", "retention_days",
        "stream_id", "seq", "prev_hash", "hash", "hash_version",
    ]  # fmt: skip
    start = datetime.now(UTC) - timedelta(days=10)
    step_us = 10 * 86_400_000_000 // count
    previous = [""] * STREAMS
    rows = []
    started = time.monotonic()
    for n in range(count):
        stream, seq = n % STREAMS, n // STREAMS + 1
        when = start + timedelta(microseconds=n * step_us)
        event_id = uuid.UUID(int=n + 1, version=4)
        user, session = f"{n % 500:064x}", f"s-{n % 500}-{n // 5000}"
        event: dict[str, Any] = {
            "event_id": str(event_id), "event_time": when,
            "event_type": "TOOL_CALL", "phase": "RESULT", "call_id": f"c-{n}",
            "actor": {"user_pseudonym": user, "pseudonym_key_id": "k1",
                      "client_id": "cursor", "session_id": session, "tenant_id": "acme"},
            "target": {"server_id": "files", "tool_name": "read_file", "classification": "MEDIUM"},
            "payload": {"args_digest": f"{n:064x}"},
            "outcome": {"status": "SUCCESS", "duration_us": 1000 + n % 977, "error_type": None},
            "integrity": {"stream_id": f"stream-{stream}", "seq": seq},
        }  # fmt: skip
        digest = chain_hash(previous[stream], event)
        rows.append([
            event_id, when, "TOOL_CALL", "RESULT", f"c-{n}", user, "k1", "cursor", session,
            "acme", "files", "read_file", "MEDIUM", f"{n:064x}", "SUCCESS",
            1000 + n % 977, 365, f"stream-{stream}", seq, previous[stream], digest,
            HASH_VERSION,  # the sink's INSERT sets it: rows hashed by today's formula
        ])  # fmt: skip
        previous[stream] = digest
        if len(rows) == 100_000:
            client.insert("audit_events", rows, column_names=columns)
            rows = []
    if rows:
        client.insert("audit_events", rows, column_names=columns)
    # Each row's hashes, by the sink's own expressions (its INSERT computes them), so the
    # row and sealed-content checks hash what a real store holds.
    for column, sql in (("personal_hash", ENRICHED.personal_hash_sql()),
                        ("content_hash", ENRICHED.content_hash_sql())):  # fmt: skip
        client.command(f"ALTER TABLE audit_events UPDATE {column} = {sql} WHERE 1",
                       settings={"mutations_sync": 2})  # fmt: skip
    stored = time.monotonic()
    settings = SinkSettings.load(environ={}, clickhouse_url=url, database=DATABASE,
                                 signing_key_dir=Path(keys))  # fmt: skip
    sealer = sealer_from_settings(client, settings, None)
    appended, heads = sealer.cycle()
    assert appended == count, appended
    done = time.monotonic()
    return {"store_s": stored - started, "seal_s": done - stored, "heads": len(heads)}


def timed_verify(url: str, keys: str) -> dict[str, Any]:
    """In a child process: one ``mcp-audit verify --quiet``; its exit code and seconds."""
    import contextlib
    import io

    from mcp_audit.cli import main
    from sinks.settings import SinkSettings

    os.environ.update(MCP_AUDIT_SINK_CLICKHOUSE_URL=url, MCP_AUDIT_SINK_DATABASE=DATABASE)
    if "signing_key_dir" in SinkSettings.model_fields:  # the baseline has no such setting
        os.environ["MCP_AUDIT_SINK_SIGNING_KEY_DIR"] = keys
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        code = main(["verify", "--quiet"])
    return {"seconds": time.monotonic() - started, "code": code, "tail": out.getvalue()[-3000:]}


def _child(tree: Path, function: str, *args: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_AUDIT_")}
    env["PYTHONPATH"] = str(tree)
    # This file's functions, run against the modules of ``tree`` (first on the path).
    code = (
        "import importlib.util, json, sys;"
        "spec = importlib.util.spec_from_file_location('bench_verify_child', sys.argv[1]);"
        "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b);"
        f"print('RESULT', json.dumps(b.{function}(*sys.argv[2:])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, __file__, *args],
        env=env, cwd=tree, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode or not lines:
        raise RuntimeError(f"{function} in {tree} failed:\n{result.stderr[-3000:]}")
    data: dict[str, object] = json.loads(lines[-1][7:])
    return data


def main() -> str:
    if not (BASE / "mcp_audit").exists():
        raise SystemExit(f"no baseline tree at {BASE}: git worktree add {BASE} <start commit>")
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as scratch:
        url, keys = f"chdb://{scratch}/store", f"{scratch}/keys"
        built = _child(ROOT, "build", url, keys, str(EVENTS))
        times: dict[str, list[float]] = {"baseline": [], "this tree": []}
        failed: list[str] = []
        for _ in range(ROUNDS):
            for name, tree in (("baseline", BASE), ("this tree", ROOT)):
                run = _child(tree, "timed_verify", url, keys)
                if run["code"] != 0:  # say what it found, and how long it took to find it
                    print(
                        f"{name}: verify exited {run['code']} after {run['seconds']:.0f} s:\n"
                        f"{run['tail']}",
                        file=sys.stderr,
                        flush=True,
                    )
                    failed.append(f"{name} exited {run['code']}")
                times[name].append(float(str(run["seconds"])))
    rows = [
        [name, f"{statistics.median(t):.1f}", f"{EVENTS / statistics.median(t):,.0f}"]
        for name, t in times.items()
    ]
    ratio = statistics.median(times["baseline"]) / statistics.median(times["this tree"])
    return (
        f"## verify over {EVENTS:,} stored events\n\n"
        f"Store built in {built['store_s']:.0f} s and sealed ({built['heads']} tree heads) in"
        f" {built['seal_s']:.1f} s. Median of {ROUNDS} alternated runs each:\n\n"
        + table(["tree", "seconds", "events/s"], rows)
        + f"\n\nThis tree / baseline throughput: **{ratio:.2f}x**."
        # An honest store must verify: a failed run's time is not a verify's.
        + (f" NOT VALID: {', '.join(failed)} on an honest store." if failed else "")
    )


if __name__ == "__main__":
    print(main())
