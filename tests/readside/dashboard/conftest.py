"""The investigation's store, for the tests of its queries, its JSON doors and its pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from tests.readside.dashboard.investigation_store import Investigation, build


@pytest.fixture
def inv(clickhouse: Client, clickhouse_url: str, tmp_path: Path) -> Investigation:
    return build(clickhouse, clickhouse_url, tmp_path / "keys")
