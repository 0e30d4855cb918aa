"""HMAC-SHA256 with the key's pads hashed once (RFC 2104).

``hmac.new(key, data, sha256)`` pads and hashes the key on every call; here the two
SHA-256 states after the inner and outer pads are made once per key and each MAC
copies them: about half the cost per call for short inputs (docs/benchmarks.md).
Used for whatever is MAC'd per event on a hot path: value digests
(:class:`producers.privacy.pseudonym.ValueDigester`), origin MACs by the producers
(:mod:`producers.event.chain`) and their check by the processors (:mod:`processors.origin`).
The compiled sealer (``producers/csrc/sealc.c``, ``origin_init``) does the same in C.
Immutable and thread-safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemas.integrity import OriginKey

# HMAC's inner and outer pads, as translate tables over a key's bytes.
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_BLOCK = hashlib.sha256().block_size


class PaddedHmac:
    """``PaddedHmac(key)(data)`` == ``hmac.new(key, data, "sha256").hexdigest()``."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:  # a long key is replaced by its hash, as HMAC says
            key = hashlib.sha256(key).digest()
        padded = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(padded.translate(_IPAD))
        self._outer = hashlib.sha256(padded.translate(_OPAD))

    def __call__(self, data: bytes) -> str:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class HeldKeys:
    """A checker's keys by id, each as its :class:`PaddedHmac`: the processors' origin
    check and the sink's check of the processors' MAC both look a MAC's key id up here."""

    __slots__ = ("_macs",)

    def __init__(self, keys: Iterable[OriginKey]) -> None:
        # Subclasses look a key id up in _macs directly: once per event, no call more.
        self._macs = {k.key_id: PaddedHmac(k.key) for k in keys}

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._macs)
