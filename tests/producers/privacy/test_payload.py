"""Minimisation per policy: keyed digests always, values only where kept, events within bound."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import pytest

from producers.event.model import Actor, CallEvent, Compliance, Producer, Target
from producers.privacy.payload import Minimiser
from producers.privacy.policy import BUILTIN_RULES
from producers.privacy.pseudonym import ValueDigester
from producers.privacy.redact import Redactor

KEY = b"digest-key-for-the-tests-0123456"


def _event() -> CallEvent:
    return CallEvent(
        "TOOL_CALL", "ATTEMPT", "", Actor(), Target("s"), Producer("h", 1, "v", "api"), Compliance()
    )


def _minimiser(**redactor: Any) -> Minimiser:
    return Minimiser(Redactor(**redactor), 900_000, ValueDigester(KEY, "d1"))


def _keyed(data: str) -> str:
    """What the key holder computes with the standard library alone."""
    return hmac.new(KEY, data.encode(), hashlib.sha256).hexdigest()


def test_digest_is_hmac_of_canonical_json_the_key_holder_can_recompute() -> None:
    args = {"b": [1, 2.5, None], "a": "ünïcode", "c": {"z": True, "y": "x"}}
    event = _event()
    _minimiser().args(event, args, BUILTIN_RULES["HIGH"])
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert event.args_digest == _keyed(canonical)
    assert event.args_json is None and event.arg_keys == ("b", "a", "c")


@pytest.mark.parametrize("classification", ["HIGH", "CRITICAL"])
def test_a_kept_out_value_cannot_be_brute_forced_from_its_digest(classification: str) -> None:
    """As an attacker with the log but not the key: every candidate patient id, card and
    CVV tried as unsalted SHA-256 (which found them on the old code) and as an HMAC
    under a guessed key finds nothing; only the real key confirms the value."""
    rule = BUILTIN_RULES[classification]
    minimiser, secret = _minimiser(), {"patient_id": 4711}
    event = _event()
    minimiser.args(event, secret, rule)
    minimiser.result(event, {"card": "4111111111111111", "cvv": "737"}, rule)
    assert event.args_json is None and event.result_json is None
    candidates = [json.dumps({"patient_id": n}, separators=(",", ":")) for n in range(10_000)]
    cards = [
        json.dumps({"card": "4111111111111111", "cvv": f"{cvv:03d}"}, separators=(",", ":"))
        for cvv in range(1000)
    ]
    plain = {hashlib.sha256(c.encode()).hexdigest() for c in candidates + cards}
    guessed = os.urandom(32)
    other = {hmac.new(guessed, c.encode(), hashlib.sha256).hexdigest() for c in candidates}
    assert event.args_digest not in plain | other
    assert event.result_digest not in plain
    assert _keyed('{"patient_id":4711}') == event.args_digest
    assert _keyed('{"card":"4111111111111111","cvv":"737"}') == event.result_digest


def test_kept_arguments_with_nothing_to_redact_are_their_canonical_json() -> None:
    # So the key holder can check them against the digest directly; with a redaction
    # they differ, and the digest gives no one without the key a way to the secret.
    minimiser, event = _minimiser(), _event()
    for _ in range(2):  # the first call walks the arguments; later ones find them known-plain
        minimiser.args(event, {"path": "/srv/report.csv", "limit": 5}, BUILTIN_RULES["LOW"])
        assert event.args_json == '{"limit":5,"path":"/srv/report.csv"}'
        assert _keyed(event.args_json) == event.args_digest
    minimiser.args(event, {"path": "/srv/x", "password": "hunter2"}, BUILTIN_RULES["LOW"])
    assert event.args_json is not None and "hunter2" not in event.args_json
    assert _keyed(event.args_json) != event.args_digest
    plain = hashlib.sha256(b'{"password":"hunter2","path":"/srv/x"}').hexdigest()
    assert event.args_digest != plain


def test_a_changed_value_is_a_keyed_digest_too() -> None:
    assert _minimiser().of_value("hunter2") == _keyed('"hunter2"')


def test_bodies_are_dropped_to_respect_the_event_bound() -> None:
    minimiser = Minimiser(
        Redactor(max_string=100_000, max_items=100_000), 40_000, ValueDigester(KEY, "d1")
    )
    event = _event()
    minimiser.args(event, {"rows": ["x" * 50] * 200}, BUILTIN_RULES["LOW"])
    assert event.args_json is not None and not event.truncated  # ~10 kB fits
    size = minimiser.result(event, {"rows": ["y" * 50] * 300}, BUILTIN_RULES["LOW"])
    assert event.result_json is None and event.truncated  # the result goes first
    assert event.args_json is not None and size > 10_000 and event.result_digest is not None
    minimiser.args(event, {"rows": ["z" * 50] * 2000}, BUILTIN_RULES["LOW"])
    assert event.args_json is None and event.args_digest is not None and event.truncated
