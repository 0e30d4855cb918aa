"""Settings: defaults, overrides, and unknown keys refused."""

from __future__ import annotations

import pytest

from schemas.errors import ConfigError
from schemas.kafka import KafkaSettings


def test_defaults_find_the_embedded_broker() -> None:
    settings = KafkaSettings.load(environ={})
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.schema_registry_url is None


def test_environment_sets_values() -> None:
    settings = KafkaSettings.load(environ={"MCP_AUDIT_KAFKA_PARTITIONS": "12"})
    assert settings.partitions == 12


def test_unknown_key_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as caught:
        KafkaSettings.load(environ={"MCP_AUDIT_KAFKA_BOOTSTRAP_SERVER": "x:9092"})
    assert caught.value.fields["variables"] == ["MCP_AUDIT_KAFKA_BOOTSTRAP_SERVER"]


def test_invalid_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        KafkaSettings.load(environ={"MCP_AUDIT_KAFKA_PARTITIONS": "zero"})


def test_other_parts_variables_are_not_this_parts_business() -> None:
    settings = KafkaSettings.load(environ={"MCP_AUDIT_SINK_DATABASE": "x"})
    assert settings.topic_raw == "mcp-audit.events.raw"


def test_password_never_prints() -> None:
    settings = KafkaSettings.load(environ={"MCP_AUDIT_KAFKA_SASL_PASSWORD": "hunter2"})
    assert "hunter2" not in repr(settings)
    assert settings.client_config()["sasl.password"] == "hunter2"
