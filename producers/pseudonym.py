"""Keyed pseudonyms for user ids: HMAC-SHA256 under a named key.

The key id travels with every pseudonym, so keys can rotate (old events keep
naming the key that made them) and destroying a key makes its pseudonyms
unlinkable to anyone (erasure by crypto-shredding). A :class:`Pseudonymiser`
is immutable and thread-safe; results are cached because one server sees the
same few users again and again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path

from producers.errors import ProducerError

MIN_KEY_BYTES = 16


class Pseudonymiser:
    __slots__ = ("_cached", "_key", "key_id")

    def __init__(self, key: bytes, key_id: str) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ProducerError("the HMAC key is too short", min_bytes=MIN_KEY_BYTES)
        self._key = key
        self.key_id = key_id
        self._cached = lru_cache(maxsize=4096)(self._compute)

    def _compute(self, user_id: str) -> str:
        return hmac.new(
            self._key, user_id.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()

    def __call__(self, user_id: str | None) -> str | None:
        """The hex pseudonym of ``user_id``; None stays None (anonymous calls)."""
        if user_id is None:
            return None
        return self._cached(user_id)


def load_key(*, env_var: str | None, key_file: Path | None) -> bytes | None:
    """The HMAC key from a file (raw bytes, trailing newline dropped) or an env variable.

    Returns None when neither is configured; the caller then makes an
    ephemeral key, whose pseudonyms link only within one process lifetime.
    """
    if key_file is not None:
        try:
            return key_file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ProducerError("cannot read the HMAC key file", path=str(key_file)) from exc
    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            raise ProducerError("the HMAC key variable is not set", variable=env_var)
        return value.encode("utf-8")
    return None


def ephemeral() -> Pseudonymiser:
    """A random key that lives and dies with this process: pseudonyms unlinkable after exit."""
    return Pseudonymiser(os.urandom(32), "ephemeral-" + os.urandom(4).hex())
