"""producers.runtime: the process-wide Auditor, loaded lazily and at most once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from producers import runtime
from producers.decorator import audit_tool
from producers.errors import AuditRefused, AuditUnavailable
from producers.settings import ProducerSettings
from schemas.errors import ConfigError


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


def test_a_producer_configured_to_refuse_refuses_every_call_when_its_settings_cannot_load(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MCP_AUDIT_PRODUCER_ON_START_FAILURE", "refuse")
    monkeypatch.setenv("MCP_AUDIT_PRODUCER_SPOOL_MAX_BYTS", "1")  # misspelt: refused
    ran: list[int] = []

    @audit_tool
    def double(x: int) -> int:
        ran.append(x)
        return 2 * x

    with caplog.at_level(logging.ERROR, logger="producers"):
        for x in (1, 2):
            with pytest.raises(AuditUnavailable) as refused:
                double(x)
            assert "could not start" in str(refused.value)
            assert "MCP_AUDIT_PRODUCER_SPOOL_MAX_BYTS" in str(refused.value)
            assert isinstance(refused.value, AuditRefused)
            assert refused.value.cause == "ConfigError"
    assert ran == []  # refused before the tool ran
    assert len([r for r in caplog.records if "could not start" in r.getMessage()]) == 1
    # Once the configuration is fixed, a new start audits again.
    monkeypatch.delenv("MCP_AUDIT_PRODUCER_SPOOL_MAX_BYTS")
    monkeypatch.setenv("MCP_AUDIT_PRODUCER_ENABLED", "false")
    runtime.shutdown()
    assert double(3) == 6 and ran == [3]


def test_a_producer_configured_to_refuse_refuses_when_a_key_cannot_load(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MCP_AUDIT_PRODUCER_ON_START_FAILURE", "refuse")
    monkeypatch.setenv("MCP_AUDIT_PRODUCER_ORIGIN_KEY_FILE", str(tmp_path / "gone.key"))

    @audit_tool
    def tool() -> str:
        return "ran"

    with pytest.raises(AuditUnavailable):
        tool()


def test_refusing_is_asked_for_by_any_value_but_run_unaudited() -> None:
    assert not runtime.refuses_when_unstarted({})
    assert not runtime.refuses_when_unstarted(
        {"MCP_AUDIT_PRODUCER_ON_START_FAILURE": "run_unaudited"}
    )
    for value in ("refuse", "REFUSE", "refuse-please", ""):  # misspelt: fails closed
        assert runtime.refuses_when_unstarted({"MCP_AUDIT_PRODUCER_ON_START_FAILURE": value})


def test_the_refusing_setting_is_a_setting_and_a_good_configuration_starts(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_AUDIT_PRODUCER_ON_START_FAILURE", "refuse")
    monkeypatch.setenv("MCP_AUDIT_PRODUCER_ENABLED", "false")
    assert runtime.get_auditor() is None  # disabled on purpose: calls straight through
    with pytest.raises(ConfigError):
        ProducerSettings.load(environ={"MCP_AUDIT_PRODUCER_ON_START_FAILURE": "maybe"})
