"""schemas.keyed: the pre-padded HMAC is the one RFC 2104 defines, for any key length."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from schemas.keyed import PaddedHmac


@given(key=st.binary(max_size=200), data=st.binary(max_size=300))
def test_padded_hmac_is_the_standard_librarys(key: bytes, data: bytes) -> None:
    # Keys past the 64-byte block are hashed first; shorter ones padded with zeros.
    assert PaddedHmac(key)(data) == hmac.new(key, data, hashlib.sha256).hexdigest()
