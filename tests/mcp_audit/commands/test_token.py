"""``mcp-audit token`` in the dashboard's container prints a link a browser can open."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_audit.cli import main
from readside.tokens import Tokens


def test_a_container_bind_prints_the_published_loopback_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MCP_AUDIT_PLATFORM_DASHBOARD_HOST", "0.0.0.0")
    monkeypatch.setenv("MCP_AUDIT_PLATFORM_DASHBOARD_PORT", "8321")
    monkeypatch.setenv("MCP_AUDIT_READ_TOKEN_FILE", str(tmp_path / "tokens.json"))
    assert main(["token"]) == 0
    token = Tokens(tmp_path / "tokens.json").own_token()
    assert f"dashboard: http://127.0.0.1:8321/#token={token}\n" in capsys.readouterr().out
