"""Open a session's server-to-client event stream upstream before its client asks for it.

Why: a server request sent unrelated to a call (on the session's GET stream, as the
reference everything-server sends ``sampling/createMessage``) is dropped from the live
stream when the client's GET has not reached the server yet. Clients start that GET
and their first call together; through the proxy the GET has one more hop, and a
proxy log showed it arriving 15 ms after the call in runs that lost the request
(docs/mcp-conformance.md). So when the proxy forwards ``notifications/initialized``
it opens the session's GET stream upstream itself, before the client learns the
notification was taken, and hands that stream to the client's first plain GET.

Lifecycle: :meth:`Prefetch.open` (awaited before the notification's reply goes
back) stores an open upstream reply per (path, session, credentials);
:meth:`Prefetch.claim` gives it to the client's GET that carries the same
session id and the same credentials (a stream opened with one client's
credentials never serves another); one not claimed within ``CLAIM_S`` is closed,
as is a session's on DELETE and every one when the proxy stops. A resuming GET
(``Last-Event-ID``) is forwarded as usual.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import ClientResponse, ClientSession, hdrs
from multidict import CIMultiDict
from yarl import URL

log = logging.getLogger(__name__)
SESSION = "Mcp-Session-Id"
OPEN_S = 2.0  # the notification's reply waits at most this long for the stream to open
CLAIM_S = 5.0  # clients open their GET within milliseconds of the notification
_INITIALIZED = b"notifications/initialized"
_Key = tuple[str, str, str, str]


def announces_initialized(method: str, body: bytes) -> bool:
    """A POST carrying ``notifications/initialized``: a byte search, not a parse. A client
    that spells the method with JSON escapes only goes without the prefetch."""
    return method == "POST" and _INITIALIZED in body


def _key(path: str, headers: Any) -> _Key | None:
    session = headers.get(SESSION)
    if not session:
        return None
    return (path, session, headers.get(hdrs.AUTHORIZATION, ""), headers.get(hdrs.COOKIE, ""))


class Prefetch:
    def __init__(self) -> None:
        self._open: dict[_Key, tuple[ClientResponse, asyncio.TimerHandle]] = {}

    async def open(
        self, client: ClientSession, url: URL, path: str, headers: CIMultiDict[str]
    ) -> None:
        """Open the session's GET stream upstream with the notification's headers."""
        key = _key(path, headers)
        if key is None or key in self._open:
            return
        toward = CIMultiDict(
            (k, v) for k, v in headers.items() if k.lower() not in ("content-type", "accept")
        )
        toward[hdrs.ACCEPT] = "text/event-stream"
        try:
            reply = await asyncio.wait_for(
                client.get(url, headers=toward, allow_redirects=False), OPEN_S
            )
        except Exception as exc:  # the client's own GET will be forwarded as usual
            log.debug("could not open the event stream ahead of the client: %r", exc)
            return
        if reply.status != 200:  # e.g. 405: the client's GET gets the upstream's own answer
            reply.close()
            return
        timer = asyncio.get_running_loop().call_later(CLAIM_S, self._drop, key)
        self._open[key] = (reply, timer)

    def claim(self, method: str, path: str, headers: Any) -> ClientResponse | None:
        """The stream opened for this GET's session and credentials, if any."""
        if method != "GET" or hdrs.LAST_EVENT_ID in headers:
            return None
        key = _key(path, headers)
        held = self._open.pop(key, None) if key is not None else None
        if held is None:
            return None
        reply, timer = held
        timer.cancel()
        return reply

    def forget(self, method: str, path: str, headers: Any) -> None:
        """A DELETE ends the session: its unclaimed stream goes too."""
        if method == "DELETE" and (key := _key(path, headers)) is not None:
            self._drop(key)

    def close(self) -> None:
        for key in list(self._open):
            self._drop(key)

    def _drop(self, key: _Key) -> None:
        held = self._open.pop(key, None)
        if held is not None:
            held[1].cancel()
            held[0].close()
