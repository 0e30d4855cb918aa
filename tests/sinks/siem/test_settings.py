"""MCP_AUDIT_SIEM_*: unknown keys refused, URLs checked, the token never printed, documented."""

from __future__ import annotations

import pytest

from mcp_audit.config import ALL_SETTINGS, settings_for
from schemas.errors import ConfigError
from sinks.siem.settings import SiemSettings
from sinks.siem.webhook import Webhook


def test_defaults_and_environment() -> None:
    settings = SiemSettings.load(
        environ={
            "MCP_AUDIT_SIEM_WEBHOOK_URL": "https://siem.example/ingest",
            "MCP_AUDIT_SIEM_BATCH_SIZE": "20",
        }
    )
    assert settings.webhook_url == "https://siem.example/ingest"
    assert settings.batch_size == 20
    assert settings.consumer_group == "mcp-audit-siem"
    assert settings.max_retries == 0


def test_unknown_key_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as caught:
        SiemSettings.load(environ={"MCP_AUDIT_SIEM_WEBHOOK": "https://siem.example"})
    assert caught.value.fields["variables"] == ["MCP_AUDIT_SIEM_WEBHOOK"]


@pytest.mark.parametrize("url", ["siem.example/ingest", "ftp://siem.example/", "https://"])
def test_a_webhook_url_must_be_http_with_a_host(url: str) -> None:
    with pytest.raises(ConfigError):
        SiemSettings.load(environ={"MCP_AUDIT_SIEM_WEBHOOK_URL": url})


def test_without_a_url_the_forwarder_does_not_start() -> None:
    with pytest.raises(ConfigError) as caught:
        Webhook(SiemSettings.load(environ={}))
    assert caught.value.fields["variable"] == "MCP_AUDIT_SIEM_WEBHOOK_URL"


def test_token_never_prints_and_forms_the_header() -> None:
    settings = SiemSettings.load(environ={"MCP_AUDIT_SIEM_AUTH_TOKEN": "hunter2"})
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    assert settings.auth_value() == "Bearer hunter2"
    splunk = SiemSettings.load(environ={}, auth_token="t", auth_scheme="Splunk")
    assert splunk.auth_value() == "Splunk t"
    bare = SiemSettings.load(environ={}, auth_token="t", auth_scheme="", auth_header="X-Api-Key")
    assert bare.auth_value() == "t"
    assert SiemSettings.load(environ={}).auth_value() is None
    assert SiemSettings.load(environ={}, auth_token="").auth_value() is None  # compose: unset


def test_registered_under_its_own_prefix() -> None:
    assert SiemSettings in ALL_SETTINGS
    assert settings_for("MCP_AUDIT_SIEM_WEBHOOK_URL") is SiemSettings
    assert settings_for("MCP_AUDIT_SINK_DATABASE") is not SiemSettings
