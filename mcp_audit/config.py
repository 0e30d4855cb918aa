"""Every part's settings model, so tools and tests can see the whole configuration."""

from __future__ import annotations

from mcp_audit.settings import PlatformSettings
from processors.settings import ProcessorSettings
from producers.settings import ProducerSettings
from readside.settings import ReadSettings
from schemas.kafka import KafkaSettings
from schemas.settings import PartSettings
from sinks.settings import SinkSettings
from sinks.siem.settings import SiemSettings

ALL_SETTINGS: tuple[type[PartSettings], ...] = (
    KafkaSettings,
    PlatformSettings,
    ProcessorSettings,
    ProducerSettings,
    ReadSettings,
    SinkSettings,
    SiemSettings,
)


def settings_for(variable: str) -> type[PartSettings] | None:
    """The settings model whose prefix ``variable`` falls under, if any."""
    for model in ALL_SETTINGS:
        if variable.upper().startswith(str(model.model_config.get("env_prefix", ""))):
            return model
    return None
