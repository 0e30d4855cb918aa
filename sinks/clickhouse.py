"""One ClickHouse client for both the embedded engine and a server.

``chdb://`` URLs open chDB, the ClickHouse engine in-process; ``http(s)://``
URLs talk to a ClickHouse server. Everything above this module runs the same
SQL either way. chDB allows one data directory per process and one process per
data directory, so the embedded store has a single owner process; other
processes read through that owner's query endpoint.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from schemas.errors import ConfigError, PlatformError


def is_embedded(url: str) -> bool:
    return url.startswith("chdb:")


def embedded_path(url: str) -> str:
    """The directory a ``chdb://`` URL names; ``chdb://./x`` is relative to the cwd."""
    parts = urlsplit(url)
    path = (parts.netloc + parts.path) if parts.netloc not in ("", "memory") else parts.path
    if parts.netloc == "memory":
        return ":memory:"
    return os.path.abspath(path)


def connect(url: str, database: str | None = None, **settings: Any) -> Client:
    """A client for ``url``; the database, if named, is created first."""
    scheme = urlsplit(url).scheme
    try:
        if scheme == "chdb":
            path = embedded_path(url)
            if path != ":memory:":
                os.makedirs(path, mode=0o700, exist_ok=True)
            client = clickhouse_connect.get_client(
                interface="chdb", path=path, settings=settings or None
            )
        elif scheme in ("http", "https"):
            client = clickhouse_connect.get_client(dsn=url, settings=settings or None)
        else:
            raise ConfigError("unsupported ClickHouse URL scheme", url=_safe(url), scheme=scheme)
        if database:
            client.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
            client.database = database
    except ConfigError:
        raise
    except Exception as exc:
        raise PlatformError("cannot open ClickHouse", url=_safe(url)) from exc
    return client


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _safe(url: str) -> str:
    """The URL without its password, for error messages."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
