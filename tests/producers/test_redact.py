"""The redactor finds secrets and personal data, bounds everything, and never chokes."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.redact import Redactor, Walk
from producers.scanners import LITERALS, Scanner, luhn_ok
from producers.secret_formats import RULES

SECRETS = {
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "bearer": "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
    "api_key": "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "url_password": "postgres://admin:hunter2secret@db.internal:5432/app",
    "keyed": "password=CorrectHorseBattery",
    "email": "alice.smith+work@example.co.uk",
    "card": "4111 1111 1111 1111",
    "ssn": "123-45-6789",
    "nino": "AB123456C",
    "phone": "+44 20 7946 0958",
    "iban": "GB82 WEST 1234 5698 7654 32",
}
LEAKS = {
    "jwt": "dozjgNryP4J3",
    "bearer": "abcdefghijklmnop",
    "api_key": "4f9a8b7c6d5e",
    "aws": "IOSFODNN7",
    "github": "abcdefghijklmnopqrstuvwxyz0123456789",
    "url_password": "hunter2secret",
    "keyed": "CorrectHorse",
    "email": "alice.smith",
    "card": "1111 1111 1111",
    "ssn": "45-6789",
    "nino": "123456C",
    "phone": "7946 0958",
    "iban": "1234 5698",
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_each_kind_is_redacted_in_prose(kind: str) -> None:
    text, count = Scanner().scrub(f"note: {SECRETS[kind]} (see above)")
    assert LEAKS[kind] not in text
    assert count >= 1 and "[REDACTED:" in text


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_each_kind_is_redacted_as_a_bare_argument_value(kind: str) -> None:
    # No prose around it: the short-ASCII fast path must still see every kind.
    walk, redactor = Walk(), Redactor()
    cleaned = redactor.clean({"value": SECRETS[kind], "list": [SECRETS[kind]]}, walk)
    assert LEAKS[kind] not in orjson.dumps(cleaned).decode()
    assert walk.redactions >= 2
    for _ in range(2):  # the second time, "value" is a known plain key of a flat dict
        walk = Walk()
        flat = redactor.clean({"value": SECRETS[kind], "n": 1}, walk)
        assert LEAKS[kind] not in orjson.dumps(flat).decode() and walk.redactions >= 1


def test_flat_arguments_with_nothing_to_redact_come_back_as_they_are() -> None:
    redactor, args = Redactor(), {"path": "/srv/data/report.csv", "limit": 5, "ok": True}
    assert redactor.clean(args, Walk()) == args
    assert redactor.clean(args, Walk()) is args  # keys now known plain: no copy
    for changed in ({**args, "limit": 2**70}, {**args, "path": "x" * 5000}, {**args, 1: "a"}):
        walk = Walk()
        assert redactor.clean(changed, walk) != changed


_FRAGMENTS = [lit for lit, _ in LITERALS] + ["a", "/", " ", "report.csv", "7", "=", ":"]
_ASCII = st.text(st.characters(max_codepoint=127), max_size=8)
QUIET = Scanner()


@given(st.lists(st.sampled_from(_FRAGMENTS) | _ASCII, max_size=6))
@settings(max_examples=500, deadline=None)
def test_the_quiet_pre_test_never_passes_a_text_with_a_finding(parts: list[str]) -> None:
    text = "".join(parts)
    assert QUIET.quiet is not None
    if text.isascii() and QUIET.quiet(text):
        assert QUIET.findings(text) == []


@pytest.mark.parametrize("use_hyperscan", [True, False], ids=["hyperscan", "re-only"])
def test_both_pre_filters_find_the_same(use_hyperscan: bool) -> None:
    scanner = Scanner(use_hyperscan=use_hyperscan)
    assert scanner.compiled is use_hyperscan
    for kind, secret in SECRETS.items():
        text, count = scanner.scrub(f"note: {secret} (see above)")
        assert LEAKS[kind] not in text and count >= 1


def test_numbers_that_fail_their_checksum_stay() -> None:
    assert not luhn_ok("4111111111111112")
    text, count = Scanner().scrub("order 4111 1111 1111 1112 and GB00 WEST 1234 5698 7654 32")
    assert "4111 1111 1111 1112" in text and count == 0


def test_private_key_block_is_cut_even_without_end_marker() -> None:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" * 100
    for text in (
        f"key: -----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY----- tail",
        f"-----BEGIN PRIVATE KEY-----\n{body}",
    ):
        out, count = Scanner().scrub(text)
        assert "MIIEvQIBADAN" not in out and count == 1


def test_values_under_sensitive_keys_are_replaced_whole() -> None:
    walk = Walk()
    cleaned = Redactor().clean(
        {"user": "bob", "API_Key": 12345, "conf": {"Token": ["x"]}, "auth": {"a": 1}}, walk
    )
    assert cleaned == {
        "user": "bob",
        "API_Key": "[REDACTED:key]",
        "conf": {"Token": "[REDACTED:key]"},
        "auth": "[REDACTED:key]",
    }
    assert walk.redactions == 3


class Opaque:
    def __repr__(self) -> str:
        return "secret-repr sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a"


def test_hostile_structures_become_bounded_json() -> None:
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    deep: Any = "bottom"
    for _ in range(500):
        deep = [deep]
    walk = Walk()
    cleaned = Redactor(max_string=100, max_depth=8, max_items=10).clean(
        {
            "cyclic": cyclic,
            "deep": deep,
            "big": "x" * 1_000_000,
            "bytes": b"\xff\x00binary",
            "bad_utf8": "caf\udce9",
            "obj": Opaque(),
            "many": list(range(50)),
            "huge_int": 2**100,
            (1, 2): "tuple key",
        },
        walk,
    )
    data = orjson.dumps(cleaned)
    assert len(data) < 5000 and walk.truncated
    assert cleaned["cyclic"]["self"] == "<cycle>"
    assert cleaned["obj"] == "<Opaque>" and "sk-live" not in data.decode()
    assert cleaned["big"].startswith("x" * 100) and "sha256" in cleaned["big"]
    assert cleaned["bytes"].startswith("<bytes 8, sha256 ")
    assert cleaned["huge_int"] == str(2**100)


HOSTILE_LINES = [
    "a" * 1_000_000,
    "a@" * 500_000,
    "1" * 1_000_000,
    "1 " * 500_000,
    "eyJ" * 333_333,
    "password=" * 111_111,
    "x:y@" * 250_000,
    "-----BEGIN " * 90_000,
    "AB12 " * 200_000,
    ("a." * 40 + "@") * 12_000,
    "://a:" * 200_000,
    "password is " * 90_000,
    "--password " * 90_000,
    "(415)" * 200_000,
    "\u200bpass" * 200_000,
    # Every provider literal: glued to a token start, and each repeated into a long run.
    " a1".join(sorted({r.literal for r in RULES})) * (1_000_000 // 2_000),
    "".join(r.literal * (6_000 // len(r.literal)) for r in RULES),
]


SCANNER = Scanner()


@pytest.mark.parametrize("line", HOSTILE_LINES, ids=lambda s: repr(s[:12]))
def test_a_one_megabyte_line_scans_in_bounded_time(line: str) -> None:
    started = time.perf_counter()
    SCANNER.scrub(line)
    # Linear: ~1 s/MB would already be 20x the usual; quadratic would take hours.
    assert time.perf_counter() - started < 5.0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_value_cleans_to_serialisable_json(value: Any) -> None:
    cleaned = Redactor(max_string=64).clean(value, Walk())
    orjson.dumps(cleaned)  # raises if anything unencodable survived
