"""Where events come from: host, process and library version, per integration."""

from __future__ import annotations

import os
import socket
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from producers.model import Producer


def _library_version() -> str:
    try:
        return version("mcp-audit")
    except PackageNotFoundError:
        return "0+unknown"


LIBRARY_VERSION = _library_version()


@cache
def producer_info(
    integration: str, transport: str | None = None, protocol_version: str | None = None
) -> Producer:
    """Where events come from; cached, so the encoder's cache hits by identity."""
    host = socket.gethostname()
    return Producer(host, os.getpid(), LIBRARY_VERSION, integration, transport, protocol_version)
