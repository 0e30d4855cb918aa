"""One POST to the SIEM webhook, and what its answer means for the records in it.

Answers fall in four kinds (:class:`Verdict`): accepted (2xx); may pass, retry
(5xx, 408, 429, or no HTTP answer at all: refused connection, timeout, TLS);
rejected, the destination refuses these records (any other 4xx); refused, the
destination refuses the forwarder itself (3xx, 401, 403, 404, 405, 407: an
address or a credential is wrong, and no record is at fault, so dead-lettering
every alert would be the wrong cure).

Redirects are not followed: urllib replays a redirected POST as a GET without
the body, and a 2xx to that GET would count as delivered. The token is sent
only in the configured header and is cut out of any answer text kept for logs
and dead-letter headers.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from schemas.errors import ConfigError
from sinks.siem.settings import SiemSettings

log = logging.getLogger(__name__)
_DETAIL_LIMIT = 500
_REFUSED = frozenset({401, 403, 404, 405, 407})
_RETRY = frozenset({408, 429})
_CONTENT_TYPES = {"array": "application/json", "ndjson": "application/x-ndjson"}


class Verdict(Enum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    REJECTED = "rejected"
    REFUSED = "refused"


@dataclass(frozen=True)
class Reply:
    """The webhook's answer; ``status`` None when there was no HTTP answer."""

    status: int | None
    detail: str = ""
    retry_after_s: float | None = None

    @property
    def verdict(self) -> Verdict:
        status = self.status
        if status is not None and 200 <= status < 300:
            return Verdict.ACCEPTED
        # Below 300 (a stray 1xx) is unexpected: retried rather than taken as an answer.
        if status is None or status >= 500 or status in _RETRY or status < 300:
            return Verdict.RETRY
        if status < 400 or status in _REFUSED:
            return Verdict.REFUSED
        return Verdict.REJECTED


class Poster(Protocol):
    def post(self, documents: list[dict[str, Any]]) -> Reply: ...


def retry_after_s(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or HTTP-date), if it parses."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def encode(documents: list[dict[str, Any]], body_format: str) -> bytes:
    if body_format == "ndjson":
        return b"".join(orjson.dumps(document) + b"\n" for document in documents)
    return orjson.dumps(documents)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx: classified as refused


class Webhook:
    def __init__(self, settings: SiemSettings) -> None:
        if settings.webhook_url is None:
            raise ConfigError("no SIEM webhook URL", variable="MCP_AUDIT_SIEM_WEBHOOK_URL")
        self.url = settings.webhook_url
        self._timeout = settings.timeout_s
        self._format = settings.body_format
        self._headers = {
            "Content-Type": _CONTENT_TYPES[settings.body_format],
            "User-Agent": "mcp-audit-siem",
        }
        auth = settings.auth_value()
        if auth is not None:
            self._headers[settings.auth_header] = auth
        self._secret = settings.auth_token.get_secret_value() if settings.auth_token else None
        self._opener = urllib.request.build_opener(_NoRedirect())
        host = urlsplit(self.url).hostname or ""
        if self._secret and urlsplit(self.url).scheme == "http" and not _is_loopback(host):
            log.warning("the SIEM token is sent over plain http to %s; use https", host)

    def post(self, documents: list[dict[str, Any]]) -> Reply:
        request = urllib.request.Request(
            self.url, data=encode(documents, self._format), headers=self._headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                response.read()
                return Reply(response.status)
        except urllib.error.HTTPError as exc:
            text = _read_some(exc)
            return Reply(
                exc.code,
                self._redact(f"HTTP {exc.code}: {text}".strip()),
                retry_after_s(exc.headers.get("Retry-After") if exc.headers else None),
            )
        except (OSError, http.client.HTTPException) as exc:
            # URLError, refused connections, timeouts and TLS failures are all OSError.
            return Reply(None, self._redact(f"{type(exc).__name__}: {exc}"))

    def _redact(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "[token]")
        return text[:_DETAIL_LIMIT]


def _read_some(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(_DETAIL_LIMIT).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
