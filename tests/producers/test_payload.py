"""Minimisation per policy: digests always, values only where kept, events within their bound."""

from __future__ import annotations

import hashlib
import json

from producers.model import Actor, CallEvent, Compliance, Producer, Target
from producers.payload import Minimiser
from producers.policy import BUILTIN_RULES
from producers.redact import Redactor


def _event() -> CallEvent:
    return CallEvent(
        "TOOL_CALL", "ATTEMPT", "", Actor(), Target("s"), Producer("h", 1, "v", "api"), Compliance()
    )


def test_digest_is_sha256_of_canonical_json_an_auditor_can_recompute() -> None:
    args = {"b": [1, 2.5, None], "a": "ünïcode", "c": {"z": True, "y": "x"}}
    event = _event()
    Minimiser(Redactor(), 900_000).args(event, args, BUILTIN_RULES["HIGH"])
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert event.args_digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert event.args_json is None and event.arg_keys == ("b", "a", "c")


def test_kept_arguments_with_nothing_to_redact_are_their_canonical_json() -> None:
    # So an auditor can check them against the digest directly; with a redaction they differ.
    minimiser, event = Minimiser(Redactor(), 900_000), _event()
    for _ in range(2):  # the first call walks the arguments; later ones find them known-plain
        minimiser.args(event, {"path": "/srv/report.csv", "limit": 5}, BUILTIN_RULES["LOW"])
        assert event.args_json == '{"limit":5,"path":"/srv/report.csv"}'
        assert hashlib.sha256(event.args_json.encode()).hexdigest() == event.args_digest
    minimiser.args(event, {"path": "/srv/x", "password": "hunter2"}, BUILTIN_RULES["LOW"])
    assert event.args_json is not None and "hunter2" not in event.args_json
    assert hashlib.sha256(event.args_json.encode()).hexdigest() != event.args_digest


def test_bodies_are_dropped_to_respect_the_event_bound() -> None:
    minimiser = Minimiser(Redactor(max_string=100_000, max_items=100_000), max_event_bytes=40_000)
    event = _event()
    minimiser.args(event, {"rows": ["x" * 50] * 200}, BUILTIN_RULES["LOW"])
    assert event.args_json is not None and not event.truncated  # ~10 kB fits
    size = minimiser.result(event, {"rows": ["y" * 50] * 300}, BUILTIN_RULES["LOW"])
    assert event.result_json is None and event.truncated  # the result goes first
    assert event.args_json is not None and size > 10_000 and event.result_digest is not None
    minimiser.args(event, {"rows": ["z" * 50] * 2000}, BUILTIN_RULES["LOW"])
    assert event.args_json is None and event.args_digest is not None and event.truncated
