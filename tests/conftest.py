"""Shared fixtures: one real broker per test session, fresh topics and a fresh database per test.

Everything a fixture starts, it stops, also when the test fails.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
import uvicorn
from clickhouse_connect.driver.client import Client

from mcp_audit.embedded.broker import EmbeddedBroker, free_port
from mcp_audit.topics import ensure_topics
from schemas.kafka import KafkaSettings
from sinks.clickhouse import connect, quote_identifier

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """The path of an external tool; locally a missing tool skips, in CI it fails."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (CI installs it in .ci/run)")
    return str(path)


def missing(message: str) -> NoReturn:
    """Something CI installs is absent: locally the test skips, in CI it fails."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[str]:
    """An ASGI app served by uvicorn on loopback (a free port by default) in a thread;
    yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def child_env(kafka: KafkaSettings, **variables: str) -> dict[str, str]:
    """The environment of an ``mcp-audit`` child on ``kafka``'s topics: this process's,
    minus its MCP_AUDIT_*, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_AUDIT_")}
    env.update(
        MCP_AUDIT_KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        MCP_AUDIT_KAFKA_TOPIC_RAW=kafka.topic_raw,
        MCP_AUDIT_KAFKA_TOPIC_ENRICHED=kafka.topic_enriched,
        MCP_AUDIT_KAFKA_TOPIC_ALERTS=kafka.topic_alerts,
        MCP_AUDIT_KAFKA_TOPIC_DEAD_LETTER=kafka.topic_dead_letter,
        **variables,
    )
    return env


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(port=free_port(), log_path=log) as running:
        yield running


@pytest.fixture
def kafka_settings(broker: EmbeddedBroker) -> KafkaSettings:
    """Settings naming fresh topics on the session broker, already created."""
    suffix = uuid.uuid4().hex[:10]
    settings = KafkaSettings.load(
        environ={},
        bootstrap_servers=broker.bootstrap_servers,
        topic_raw=f"raw-{suffix}",
        topic_enriched=f"enriched-{suffix}",
        topic_alerts=f"alerts-{suffix}",
        topic_dead_letter=f"dlq-{suffix}",
        partitions=3,
    )
    ensure_topics(settings)
    return settings


@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    # chDB allows one data directory per process: the whole session shares it.
    path: Path = tmp_path_factory.mktemp("chdb")
    return f"chdb://{path}"


@pytest.fixture
def clickhouse(clickhouse_url: str) -> Iterator[Client]:
    """A client on a fresh database, dropped after the test."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    client = connect(clickhouse_url, database)
    try:
        yield client
    finally:
        client.command(f"DROP DATABASE IF EXISTS {quote_identifier(database)}")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Selenium, with its console log captured."""
    with chromium() as driver:
        yield driver


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium driven by Selenium (the browser tests and bench/bench_page.py)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = require_tool("chromium")
    flags = (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,1800",
    )  # fmt: skip
    for flag in flags:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(require_tool("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()
