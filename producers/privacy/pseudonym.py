"""Keyed pseudonyms for user ids and keyed digests of values: HMAC-SHA256 under named keys.

The key id travels with every pseudonym, so keys can rotate (old events keep
naming the key that made them) and destroying a key makes its pseudonyms
unlinkable to anyone (erasure by crypto-shredding). A :class:`Pseudonymiser`
is immutable and thread-safe; results are cached because one server sees the
same few users again and again.

A :class:`ValueDigester` makes the digests of arguments, results and changed
values under a second key: unsalted SHA-256 of a patient id or a card number
with its CVV fell to brute force in well under a second, an HMAC without its
key does not. Whoever holds the key still checks a value (``hmac.new(key,
canonical_json, "sha256").hexdigest()``). The key is kept apart from the
pseudonym key (:func:`check_apart`): destroying the pseudonym key to erase a
person must not also end the provability of every value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path

from producers.errors import ProducerError
from schemas.keyed import PaddedHmac

MIN_KEY_BYTES = 16


def _check_length(key: bytes, what: str) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ProducerError(f"the {what} is too short", min_bytes=MIN_KEY_BYTES)


class Pseudonymiser:
    __slots__ = ("_cached", "_key", "key_id")

    def __init__(self, key: bytes, key_id: str) -> None:
        _check_length(key, "HMAC key")
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


class ValueDigester(PaddedHmac):
    """HMAC-SHA256 hex of a value's bytes under the digest key named ``key_id``.

    The padded key is hashed once (:class:`schemas.keyed.PaddedHmac`): about half
    the cost of ``hmac.new`` per call on the call path (3.7 against 7.4 µs for
    typical arguments on a loaded 2-core machine; plain SHA-256 was 2.4).
    Immutable and thread-safe.
    """

    __slots__ = ("key_id",)

    def __init__(self, key: bytes, key_id: str) -> None:
        _check_length(key, "value digest key")
        super().__init__(key)
        self.key_id = key_id


def check_apart(
    pseudonym_key: bytes | None, digest_key: bytes | None, origin_key: bytes | None = None
) -> None:
    """Refuse one secret for two jobs: the pseudonym key (destroyed to erase a person),
    the value digest key (kept to check values) and the origin key (vouches for events,
    held by the processors too: whoever holds it could recompute every pseudonym and
    digest). The origin key is read from hex text and the others as raw bytes, so a
    key file copied for two jobs is caught in either form. The error names the two
    roles, never the key."""
    forms: dict[str, set[bytes]] = {}
    for role, key in (("pseudonym HMAC key", pseudonym_key), ("value digest key", digest_key)):
        if key is not None:
            forms[role] = {key, key.strip().lower()}
    if origin_key is not None:
        forms["origin key"] = {origin_key, origin_key.hex().encode()}
    roles = list(forms)
    for i, first in enumerate(roles):
        for second in roles[i + 1 :]:
            if forms[first] & forms[second]:
                raise ProducerError(
                    f"the {second} must differ from the {first}", roles=[first, second]
                )


def ephemeral_digester() -> ValueDigester:
    """A random digest key that dies with this process: its digests can be checked by no one."""
    return ValueDigester(os.urandom(32), "ephemeral-" + os.urandom(4).hex())


def load_key(*, env_var: str | None, key_file: Path | None) -> bytes | None:
    """A key from a file (raw bytes, trailing newline dropped) or an env variable.

    Returns None when neither is configured; the caller then makes an
    ephemeral key, whose pseudonyms link only within one process lifetime.
    """
    if key_file is not None:
        try:
            return key_file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ProducerError("cannot read the key file", path=str(key_file)) from exc
    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            raise ProducerError("the key variable is not set", variable=env_var)
        return value.encode("utf-8")
    return None


def ephemeral() -> Pseudonymiser:
    """A random key that lives and dies with this process: pseudonyms unlinkable after exit."""
    return Pseudonymiser(os.urandom(32), "ephemeral-" + os.urandom(4).hex())
