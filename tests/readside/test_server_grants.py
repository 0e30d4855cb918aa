"""The grants shipped for a ClickHouse server: what people's users may do there.

No ClickHouse server runs on this machine, so these read the shipped SQL; the
engine-side behaviour it relies on is the same ``readonly = 1`` the embedded
tests exercise (tests/readside/test_guard.py). Not run here: the script itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from readside.settings import ReadSettings

SCRIPT = Path(__file__).parents[2] / "deploy" / "clickhouse" / "initdb" / "20-readers.sh"


def _sql() -> str:
    return SCRIPT.read_text().split("<<SQL", 1)[1].split("\nSQL", 1)[0]


def test_readers_get_select_on_the_audit_database_only() -> None:
    grants = re.findall(r"^GRANT (.+?) TO (\w+);", _sql(), re.MULTILINE)
    assert grants == [("SELECT ON ${CLICKHOUSE_DB}.*", "mcp_audit_reader"),
                      ("mcp_audit_reader", "grafana")]  # fmt: skip


def test_the_profile_locks_readonly_and_the_read_sides_limits() -> None:
    profile = dict(re.findall(r"^\s+(\w+) = ([^,;]+)[,;]", _sql(), re.MULTILINE))
    defaults = ReadSettings.load(environ={})
    assert profile["readonly"] == "1"
    assert int(profile["max_execution_time"]) == defaults.max_execution_s
    assert int(profile["max_result_rows"]) == defaults.max_result_rows
    assert int(profile["max_result_bytes"]) == defaults.max_result_bytes
    assert int(profile["max_memory_usage"]) == defaults.max_memory_bytes
    assert int(profile["max_concurrent_queries_for_user"]) == defaults.concurrency
