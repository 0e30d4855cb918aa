"""The CLI in an install without the platform: its commands refuse with what to install.

The real light install is tests/producers/test_light_install.py; here a command module's
import is made to fail (the only stand-in: this environment has every dependency), to
check that a missing project module is never mistaken for a missing extra."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from mcp_audit import cli


def _failing(missing: str) -> object:
    real = importlib.import_module

    def import_module(name: str, package: str | None = None) -> ModuleType:
        if name == "mcp_audit.commands.sink":
            raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)
        return real(name, package)

    return import_module


def test_a_command_missing_a_platform_dependency_refuses_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli.importlib, "import_module", _failing("clickhouse_connect"))
    assert cli.main(["sink", "--help", "--password=hunter2"]) == 2
    err = capsys.readouterr().err
    assert "mcp-audit[all]" in err and "'sink'" in err
    assert "hunter2" not in err  # the refusal echoes no argument


def test_a_missing_module_of_the_project_itself_is_a_defect_not_an_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli.importlib, "import_module", _failing("sinks.writer"))
    with pytest.raises(ModuleNotFoundError):
        cli.build_parser()
