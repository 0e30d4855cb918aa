"""DNS-rebinding protection for the HTTP proxy's listener, as the MCP Python SDK does it.

A page on ``evil.example.com`` whose name resolves to 127.0.0.1 reaches a
local listener with ``Host: evil.example.com`` and ``Origin:
http://evil.example.com``. The proxy rewrites ``Host`` toward its upstream, so
an upstream that allow-lists ``Host`` can no longer see the foreign name: the
listener is the layer that can refuse it, and does, with the answers of the
SDK's ``TransportSecurityMiddleware`` (421 for a foreign Host, 403 for a
foreign Origin). An absent Origin is a same-origin or non-browser request and
passes. Patterns are the SDK's: an exact ``host[:port]`` or ``host:*`` for any
port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from aiohttp import web

# The SDK's defaults for a server bound to a loopback address.
LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")


class HostGuard:
    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self.allowed_hosts = tuple(host.lower() for host in allowed_hosts)
        self.allowed_origins = tuple(
            f"{scheme}://{host}" for host in self.allowed_hosts for scheme in ("http", "https")
        )

    @classmethod
    def for_listener(cls, listen_host: str, extra_hosts: Iterable[str] = ()) -> HostGuard | None:
        """On by default for a loopback listener (as in the SDK), or when hosts are named."""
        extra = tuple(extra_hosts)
        if _is_loopback(listen_host):
            return cls((*LOOPBACK_HOSTS, *extra))
        return cls(extra) if extra else None

    def refusal(self, headers: Mapping[str, str]) -> web.Response | None:
        """The SDK's answer to a request from a foreign name, or None to let it through."""
        if not _matches(headers.get("Host"), self.allowed_hosts):
            return web.Response(status=421, text="Invalid Host header")
        origin = headers.get("Origin")
        if origin and not _matches(origin, self.allowed_origins):
            return web.Response(status=403, text="Invalid Origin header")
        return None


def _matches(value: str | None, patterns: tuple[str, ...]) -> bool:
    if not value:
        return False
    value = value.lower()
    for pattern in patterns:
        if pattern.endswith(":*"):
            if value.startswith(pattern[:-1]) and value[len(pattern) - 1 :].isdigit():
                return True
        elif value == pattern:
            return True
    return False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
