"""producers.runtime: the process-wide Auditor, loaded lazily and at most once."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from producers import runtime
from producers.decorator import audit_tool


@pytest.fixture
def fresh_runtime() -> Iterator[None]:
    runtime.shutdown()
    yield
    runtime.shutdown()


def test_a_bad_setting_runs_calls_unaudited_and_is_logged_once(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MCP_AUDIT_PRODUCER_SPOOL_MAX_BYTS", "1")  # misspelt: refused

    @audit_tool
    def double(x: int) -> int:
        return 2 * x

    with caplog.at_level(logging.ERROR, logger="producers"):
        assert [double(1), double(2), double(3)] == [2, 4, 6]
    refusals = [r for r in caplog.records if "could not start" in r.getMessage()]
    assert len(refusals) == 1
    assert runtime.get_auditor() is None
    assert "MCP_AUDIT_PRODUCER_SPOOL_MAX_BYTS" in str(refusals[0].exc_info[1])  # type: ignore[index]


def test_the_first_call_not_the_import_reads_the_settings(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_AUDIT_PRODUCER_ENABLED", "false")
    assert not runtime._loaded
    assert runtime.get_auditor() is None
    assert runtime._loaded
