# ruff: noqa: RUF001, RUF003 - look-alike and fullwidth key names are test data here
"""The redactor finds secrets and personal data, bounds everything, and never chokes."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from producers.privacy.keynames import Sensitivity, sensitivity
from producers.privacy.redact import Redactor, Walk
from producers.privacy.scanners import LITERALS, Scanner, luhn_ok
from producers.privacy.secret_formats import RULES

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


_FRAGMENTS = [lit for lit, _ in LITERALS] + ["a", "/", " ", "report.csv", "7", "=", ":", '"']
_FRAGMENTS += [
    "has\\u0142o",
    "p\\u0430ssword",
    "pass\\u200bword",
    "\\u043f\\u0430\\u0440\\u043e\\u043b\\u044c",
]
_ASCII = st.text(st.characters(max_codepoint=127), max_size=8)
QUIET = Scanner()


@given(st.lists(st.sampled_from(_FRAGMENTS) | _ASCII, max_size=6))
@example(["has\\u0142o", "=", "a"])  # a key spelled with a JSON escape (the corpus found it)
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


# Issue 15's list of what survived, one line each: (text, the part that must go).
ISSUE_15 = [
    ("pw=Tr0ub4dor", "Tr0ub4dor"),
    ("DB_PASSWORD=hunter2x", "hunter2x"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("[db]\npassword = s3cretini", "s3cretini"),
    ("db:\n  password: s3cretyaml", "s3cretyaml"),
    ('password = "s3crettoml"', "s3crettoml"),
    ("client_secret=abc123def", "abc123def"),
    ("https://api.example.com/x?access_token=tok123abc&page=2", "tok123abc"),
    ("https://api.example.com/x?key=plainkey9", "plainkey9"),
    ("run --password=flagpw1 now", "flagpw1"),
    ("run --password flagpw2 now", "flagpw2"),
    ("mysql -u root -pflagpw3 db", "flagpw3"),
    ('{"db_password": "jsonpw1"}', "jsonpw1"),
    ('{\\"db_password\\": \\"jsonpw2\\"}', "jsonpw2"),
    ("the password is prosepw1", "prosepw1"),
    ("password => 'arrowpw1'", "arrowpw1"),
    ("pwd: pwdvalue1", "pwdvalue1"),
    ("passphrase: correct horse", "correct"),
    ("auth=authvalue1", "authvalue1"),
    ("privateKey: pkvalue1", "pkvalue1"),
    ("private-key: pkvalue2", "pkvalue2"),
    ("sessionKey=skvalue1", "skvalue1"),
    ("Passwort: geheim1", "geheim1"),
    ("contraseña: secreto1", "secreto1"),
    ("пароль: parol123", "parol123"),
    ("раssword=lookalike1", "lookalike1"),  # Cyrillic р and а
    ("pass\u200bword=zerowidth1", "zerowidth1"),
    ("ｐａｓｓｗｏｒｄ=fullwidth1", "fullwidth1"),
    ("Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVuc2VzYW1l"),
    ("curl -H 'Authorization: Token abc123tok'", "abc123tok"),
    ("github_pat_11AAAAAAA0123456789abc_" + "x" * 59, "0123456789abc"),
    ("https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/cccccccccccccccccccccccc", "cccccccc"),
    ("https://maps.googleapis.com/api?key=AIzaSyA1234567890abcdefghijklmnopqrstu", "AIzaSyA123"),
    (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0\n-----END PGP PRIVATE KEY BLOCK-----",
        "lQOYBF0",
    ),
    ("iban gb82west12345698765432", "12345698765432"),
    ("call (415)5552671 today", "5552671"),
    ("redis://:redispw123@cache:6379/0", "redispw123"),
    ("postgres://app:pgpw123@db/app", "pgpw123"),
    ("https://b.s3.amazonaws.com/f?X-Amz-Signature=abcdef0123456789", "abcdef0123456789"),
]


@pytest.mark.parametrize(("text", "leak"), ISSUE_15, ids=[t[:24] for t, _ in ISSUE_15])
def test_what_issue_15_found_surviving_is_redacted(text: str, leak: str) -> None:
    out, count = SCANNER.scrub(text)
    assert leak not in out and count >= 1


@pytest.mark.parametrize(
    "value",
    [
        {"env": [{"name": "DB_PASSWORD", "value": "pairpw1"}]},
        {"headers": [{"key": "Authorization", "value": "Digest pairpw1"}]},
        {"argv": ["deploy", "--password", "pairpw1"]},
        {"pair": ["pw", "pairpw1"]},
        {"secret_split": {"user": "admin", "pass": "pairpw1"}},
    ],
)
def test_a_secret_given_as_a_pair_is_redacted(value: dict[str, Any]) -> None:
    redactor = Redactor()
    for _ in range(2):  # the second time, the keys are known plain keys
        walk = Walk()
        assert "pairpw1" not in orjson.dumps(redactor.clean(value, walk)).decode()
        assert walk.redactions >= 1
        flat = value.get("env", [{}])[0]
        if flat:
            assert redactor.clean(flat, Walk()) == {
                "name": "DB_PASSWORD",
                "value": "[REDACTED:key]",
            }


def test_a_card_number_given_as_an_integer_is_redacted() -> None:
    walk = Walk()
    cleaned = Redactor().clean(
        {"card": 4111111111111111, "n": 4111111111111112, "t": 1717171717}, walk
    )
    assert cleaned == {"card": "[REDACTED:card]", "n": 4111111111111112, "t": 1717171717}
    assert walk.redactions == 1


def test_settings_about_secrets_and_lists_of_field_names_are_kept() -> None:
    value = {
        "max_tokens": 1024, "token_type": "Bearer", "password_min_length": 12,
        "fields": ["password", "email"], "primary_key": "id", "author": "Jane",
        "shipping_address": "1 Main St", "keyboard": "us",
    }  # fmt: skip
    walk = Walk()
    assert Redactor().clean(value, walk) == value and walk.redactions == 0


@pytest.mark.parametrize(
    ("key", "verdict"),
    [
        ("DB_PASSWORD", Sensitivity.STRONG), ("privateKey", Sensitivity.STRONG),
        ("PRIVATEKEY", Sensitivity.STRONG), ("x-api-key", Sensitivity.STRONG),
        ("Datenbankpasswort", Sensitivity.STRONG), ("ＡＰＩ＿ＫＥＹ", Sensitivity.STRONG),
        ("p\u0430ss\u200bword", Sensitivity.STRONG), ("key", Sensitivity.WEAK),
        ("token_url", Sensitivity.WEAK), ("max_tokens", Sensitivity.NONE),
        ("secretary", Sensitivity.NONE), ("author", Sensitivity.NONE),
        ("shipping", Sensitivity.NONE), ("bypass", Sensitivity.NONE),
    ],
)  # fmt: skip
def test_key_names_are_judged_after_folding(key: str, verdict: Sensitivity) -> None:
    assert sensitivity(key) is verdict


def test_the_operators_own_patterns_are_redacted_in_every_text() -> None:
    scanner = Scanner(["ACME-[0-9]{6}"])
    assert scanner.quiet is None  # no cheap pre-test can know the operator's patterns
    assert scanner.scrub("ticket ACME-123456 closed") == ("ticket [REDACTED:custom] closed", 1)
    walk = Walk()
    cleaned = Redactor(extra_patterns=["ACME-[0-9]{6}"]).clean({"t": "ACME-654321"}, walk)
    assert cleaned == {"t": "[REDACTED:custom]"} and walk.redactions == 1


def test_threads_share_one_scanner() -> None:
    # Hyperscan's scratch space is per thread: concurrent scans must not corrupt each other.
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"note: {s} (see above) {i}" for i in range(200) for s in SECRETS.values()]
    expected = [SCANNER.scrub(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(SCANNER.scrub, texts)) == expected


@pytest.mark.parametrize(
    ("uri", "kept"),
    [
        ("postgres://app:pg#pw1@db.internal:5432/prod", "postgres://app:[REDACTED:url_password]@db.internal:5432/prod"),
        ("postgres://app@db.internal:5432/prod", "postgres://app@db.internal:5432/prod"),
        ("redis://:pw1@cache:6379/0", "redis://:[REDACTED:url_password]@cache:6379/0"),
        ("mailto:alice@example.com", "mailto:[REDACTED:email]"),
    ],
)  # fmt: skip
def test_a_url_keeps_its_user_and_host_and_loses_its_password(uri: str, kept: str) -> None:
    assert Redactor().field(uri, Walk()) == kept


def test_a_field_is_scanned_whole_cached_and_counted_each_time() -> None:
    redactor = Redactor(max_string=64, max_field=256)
    uri = "https://files.example.com/" + "a/" * 40 + "?access_token=tok123456789abcdef"
    for _ in range(2):  # the second time from the cache, counted again
        walk = Walk()
        assert redactor.field(uri, walk).endswith("?access_token=[REDACTED:keyed]")
        assert (walk.redactions, walk.truncated) == (1, False)
    name = "read_file"
    assert redactor.field(name, Walk()) is name
    walk = Walk()
    assert redactor.field("x" * 300, walk).startswith("x" * 64 + "...[truncated 300 chars")
    assert walk.truncated
