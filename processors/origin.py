"""Refuse events that no origin key the processors hold vouches for.

Anyone who can write the raw topic can make a validly chained stream: the chain
needs no key. A producer holding an origin key adds ``integrity.key_id`` and
``integrity.mac``, the HMAC-SHA256 of the event's chain link under that key
(:mod:`schemas.integrity`). :class:`OriginCheck` recomputes it; an
event without one, under a key id the processors do not hold, or with a MAC that
does not match is refused (:class:`UnverifiedOriginError`, dead-letter reason
``unverified-origin``) and alerted, never enriched or stored.

What the MAC vouches for is the link, hence the chained fields through the
hash; that a stored row's fields still hash to its link is what ``mcp-audit
verify`` checks (recomputing the chain here would cost more than the rest of the
enrichment, see docs/security.md "Origin").

Keys: one file per key in a directory, ``<key id>.key`` holding the key as hex;
rotation is a new file (producers switch to it, the old one is removed once no
event under it can still arrive).
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

from processors.detectors.base import Finding
from processors.errors import UnverifiedOriginError
from schemas.keyed import HeldKeys

DETECTOR = "unverified_origin"


class OriginCheck(HeldKeys):
    """Checks each event's origin MAC against the keys held. Stateless per event."""

    def check(self, event: dict[str, Any]) -> None:
        """Raise :class:`UnverifiedOriginError` unless a held key made the event's MAC."""
        integrity = event["integrity"]
        key_id, mac = integrity.get("key_id"), integrity.get("mac")
        if key_id is None or mac is None:
            _refuse(event, "no origin MAC: no key vouches for the event", "unsigned")
        mac_of = self._macs.get(key_id)
        if mac_of is None:
            _refuse(event, "origin MAC under a key the processors do not hold", "unknown-key")
        try:
            link = bytes.fromhex(integrity["hash"])
        except ValueError:
            _refuse(event, "the chain link is not hex", "malformed-link")
        if not hmac.compare_digest(mac_of(link), mac):
            _refuse(event, "origin MAC does not match: forged or altered", "bad-mac")


def _refuse(event: dict[str, Any], message: str, why: str) -> NoReturn:
    integrity = event["integrity"]
    stream, key_id = integrity.get("stream_id") or "", integrity.get("key_id")
    # The alert folds per stream: a forged stream is one alert, counted, not thousands.
    finding = Finding(
        DETECTOR,
        "CRITICAL",
        1.0,
        f"event refused: {message} (stream {stream or '?'}, key {key_id or 'none'})",
        f"stream:{stream}",
        {"stream_id": stream, "key_id": key_id or "", "why": why},
    )
    raise UnverifiedOriginError(
        message, finding=finding, why=why, stream_id=stream, key_id=key_id, seq=integrity["seq"]
    )
