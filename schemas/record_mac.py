"""The processors' MAC on each enriched record, and its check by the sink.

The enriched topic's records are what the sink stores as genuine. The broker's
ACLs let only the processors write that topic; this makes it a matter of a key
too, so that a broker credential (or a broker without ACLs) is not enough: each
record leaves the processors with a header ``mcp-audit.processor-mac`` holding
``<key id>:<HMAC-SHA256 of the record's bytes>`` under the processors' key, and
the sink stores only records a key it holds vouches for (the rest is
dead-lettered ``unverified-processor`` and alerted).

The MAC covers the record's bytes as they are on the topic (the framing
included), so any change to any field of the enriched record, or a record made
without the key, fails. Keys have the origin keys' form (hex, at least 32 bytes,
:func:`schemas.integrity.read_origin_key`) and their directory layout
(``<key id>.key``); a processors' key must not be one of the producers' origin
keys (a producer holding it could then mint enriched records).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from schemas.integrity import OriginKey
from schemas.keyed import HeldKeys, PaddedHmac

HEADER = "mcp-audit.processor-mac"
REASON = "unverified-processor"  # the dead-letter reason of a record no key vouches for


class RecordSigner:
    """The processors' side: the header vouching for one record's bytes."""

    __slots__ = ("_mac", "_prefix", "key_id")

    def __init__(self, key: OriginKey) -> None:
        self.key_id = key.key_id
        self._mac = PaddedHmac(key.key)
        self._prefix = f"{key.key_id}:"

    def header(self, value: bytes) -> tuple[str, bytes]:
        """``(HEADER, b"<key id>:<hex MAC>")`` for a record whose bytes are ``value``."""
        return HEADER, (self._prefix + self._mac(value)).encode()


class RecordCheck(HeldKeys):
    """The sink's side: which records a held key vouches for. Stateless per record."""

    def refusal(
        self, value: bytes | None, headers: Sequence[tuple[str, bytes | None]] | None
    ) -> str | None:
        """None when a held key vouches for ``value``; otherwise why not (never echoing a
        MAC or a key)."""
        stated = [v for k, v in headers or () if k == HEADER]
        if not stated:
            return "no processor MAC: no processors' key vouches for the record"
        if len(stated) > 1:
            return "more than one processor MAC header"
        key_id, _, mac = (stated[0] or b"").decode("ascii", "replace").partition(":")
        mac_of = self._macs.get(key_id)
        if mac_of is None:
            shown = key_id if len(key_id) <= 64 and key_id.isprintable() else "?"
            return f"processor MAC under a key the sink does not hold ({shown!r})"
        if not hmac.compare_digest(mac_of(value or b""), mac):
            return f"processor MAC under key {key_id!r} does not match: forged or altered"
        return None
