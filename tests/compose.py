"""docker-compose.yml as the tests read it: services, anchors resolved, variables expanded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).parent.parent / "docker-compose.yml"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def services() -> dict[str, Any]:
    """Every service; ``<<: *anchor`` merges are resolved by the YAML loader."""
    found: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """``${VAR:-default}`` and ``${VAR}`` as compose resolves them with ``variables`` set
    (an unset or empty one takes the default, or '')."""
    return _VARIABLE.sub(lambda m: variables.get(m[1]) or (m[2] or ""), value)


def default(value: str) -> str:
    """``value`` as compose resolves it with no variable set."""
    return interpolate(value, {})
