"""Where events come from: host, process and library version, per integration."""

from __future__ import annotations

import os
from functools import cache

from producers.event.model import Producer


@cache
def library_version() -> str:
    """This library's installed version; looked up on first use, not at import:
    importing importlib.metadata alone costs about 35 ms of CPU (measured here), and
    the decorator's whole import now about 50 ms."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mcp-audit")
    except PackageNotFoundError:
        return "0+unknown"


@cache
def producer_info(
    integration: str, transport: str | None = None, protocol_version: str | None = None
) -> Producer:
    """Where events come from; cached, so the encoder's cache hits by identity."""
    import socket  # on first use, like library_version

    host = socket.gethostname()
    return Producer(host, os.getpid(), library_version(), integration, transport, protocol_version)
