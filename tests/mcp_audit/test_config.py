"""Every part's settings are registered once and documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_audit.config import ALL_SETTINGS
from schemas.settings import PartSettings

README = (Path(__file__).parents[2] / "README.md").read_text()


@pytest.mark.parametrize("model", ALL_SETTINGS, ids=lambda m: m.__name__)
def test_every_setting_has_a_row_in_the_readme(model: type[PartSettings]) -> None:
    prefix = str(model.model_config.get("env_prefix", ""))
    missing = [
        f"{prefix}{name.upper()}"
        for name in model.model_fields
        if f"`{prefix}{name.upper()}`" not in README
    ]
    assert not missing, f"README's configuration tables lack {missing}"
