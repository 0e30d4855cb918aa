"""Every event field that carries user or server data is redacted, not only arguments and results.

Each secret of the labelled corpus (tests/producers/privacy/corpus.py) is put in each field kind
through the real entry points (the JSON-RPC audit the proxy and middlewares share, the
plain API, the Auditor), and the bytes handed to Kafka are searched for it: recall per
field. detect-secrets, which the project did not write, then scans the field as published.
Values with no secret (tool names, paths, URLs, versions) come out as they went in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from producers import api
from producers.auditor import Auditor
from producers.event.origin import producer_info
from producers.integrations.mcp_meta import CLIENT_INFO_KEY
from producers.integrations.rpc import RpcAudit
from producers.privacy.policy import Policy
from readside.report.outside_scanner import findings
from schemas.wire import Deserializer
from tests.producers.privacy.corpus import EVENT_FIELDS, Case, benign_field_values, field_cases

pytestmark = pytest.mark.broker

PRODUCER = producer_info("test", "inproc")
_DECODE = Deserializer("AuditEvent")


class Published:
    """What the auditor hands its publisher (the events still go to the broker)."""

    def __init__(self, auditor: Auditor, monkeypatch: pytest.MonkeyPatch) -> None:
        self.values: list[bytes] = []
        publish = auditor.publisher.publish

        def spy(key: bytes | None, value: bytes) -> None:
            self.values.append(value)
            publish(key, value)

        monkeypatch.setattr(auditor.publisher, "publish", spy)

    def take(self) -> list[bytes]:
        values, self.values = self.values, []
        return values


def _call(rpc: RpcAudit, method: str, params: dict[str, Any], result: Any = None) -> None:
    call = rpc.begin(method, params, 1)
    assert call is not None
    rpc.end(call, result=result if result is not None else {"content": []})


def _uri(rpc: RpcAudit, uri: str) -> None:
    """A URI read over MCP, and the same URI given to the plain API (target and lineage)."""
    _call(rpc, "resources/read", {"uri": uri})
    api.resource_accessed(uri)


def _tool(rpc: RpcAudit, meta: dict[str, Any]) -> None:
    _call(rpc, "tools/call", {"name": "lookup", "arguments": {"q": 1}, "_meta": meta})


# field kind -> how a value reaches it (through the entry point that makes that field)
PLACE: dict[str, Callable[[Auditor, RpcAudit, str], None]] = {
    "tool_name": lambda a, rpc, text: _call(rpc, "tools/call", {"name": text, "arguments": {}}),
    "prompt_name": lambda a, rpc, text: _call(rpc, "prompts/get", {"name": text}),
    "resource_uri": lambda a, rpc, text: _uri(rpc, text),
    "lineage": lambda a, rpc, text: api.context_operation(
        "inject", sources=[text], destinations=[text]
    ),
    "client_name": lambda a, rpc, text: _tool(
        rpc, {CLIENT_INFO_KEY: {"name": text, "version": "1.0"}}
    ),
    "client_version": lambda a, rpc, text: _tool(
        rpc, {CLIENT_INFO_KEY: {"name": "claude-ai", "version": text}}
    ),
    "user_agent": lambda a, rpc, text: a.begin(  # type: ignore[union-attr]
        "TOOL_CALL", "lookup", {}, PRODUCER, actor=a.actor(user_id="u", user_agent=text)
    ).end("SUCCESS"),
    "ai_model": lambda a, rpc, text: _tool(rpc, {"ai": {"model": text}}),
    "ai_reason": lambda a, rpc, text: _tool(rpc, {"ai": {"reason": text}}),
    "error_text_high": lambda a, rpc, text: _call(
        rpc,
        "tools/call",
        {"name": "patient_lookup", "arguments": {}},
        {"isError": True, "content": [{"type": "text", "text": text}]},
    ),
    "permission_subject": lambda a, rpc, text: api.permission_changed(
        text, "files:write", old=False, new=True
    ),
}

# field kind -> the published texts of that field in a decoded event
FIELD_TEXTS: dict[str, Callable[[dict[str, Any]], list[str | None]]] = {
    "tool_name": lambda e: [e["target"]["tool_name"]],
    "prompt_name": lambda e: [e["target"]["prompt_name"]],
    "resource_uri": lambda e: [e["target"]["resource_uri"], *_lineage(e)],
    "lineage": lambda e: [*_lineage(e), (e["lineage"] or {}).get("operation")],
    "client_name": lambda e: [e["actor"]["client_name"]],
    "client_version": lambda e: [e["actor"]["client_version"]],
    "user_agent": lambda e: [e["actor"]["user_agent"]],
    "ai_model": lambda e: [(e["context"]["ai"] or {}).get("model")],
    "ai_reason": lambda e: [(e["context"]["ai"] or {}).get("reason")],
    "error_text_high": lambda e: [(e["outcome"] or {}).get("error_message")],
    "permission_subject": lambda e: [
        v for k, v in e["attributes"].items() if k not in ("old_digest", "new_digest", "subject")
    ],  # the subject itself is its pseudonym: hex that an entropy scanner flags by design
}


def _lineage(event: dict[str, Any]) -> list[str]:
    lineage = event["lineage"] or {}
    return [*lineage.get("sources", []), *lineage.get("destinations", [])]


@pytest.fixture
def fields(auditor: Auditor, monkeypatch: pytest.MonkeyPatch) -> Iterator[FieldRun]:
    auditor.policy = Policy(tools={"patient_*": "high"})
    yield FieldRun(auditor, Published(auditor, monkeypatch))


class FieldRun:
    def __init__(self, auditor: Auditor, published: Published) -> None:
        self.auditor, self.published = auditor, published

    def place(self, field: str, text: str) -> list[bytes]:
        """The events (as Kafka gets them) of one value put in one field by a new client."""
        PLACE[field](self.auditor, RpcAudit(self.auditor, "test", "inproc"), text)
        values = self.published.take()
        assert values, f"no event for {field}"
        return values


def recall_per_field(run: FieldRun, cases: list[Case]) -> dict[str, tuple[int, int]]:
    """field -> (cases, cases whose secret reached Kafka)."""
    out: dict[str, tuple[int, int]] = {}
    for case in cases:
        leaked = any(case.secret.encode() in v for v in run.place(case.field, case.value))
        total, missed = out.get(case.field, (0, 0))
        out[case.field] = (total + 1, missed + leaked)
    return out


def test_the_field_corpus_covers_every_format_in_every_field() -> None:
    cases = field_cases()
    assert {c.field for c in cases} == set(EVENT_FIELDS) == set(PLACE) == set(FIELD_TEXTS)
    assert len({c.name for c in cases}) >= 100
    per_field = {f: {c.name for c in cases if c.field == f} for f in EVENT_FIELDS}
    assert len({frozenset(names) for names in per_field.values()}) == 1  # the same formats


def test_recall_per_field_as_published(fields: FieldRun) -> None:
    recall = recall_per_field(fields, field_cases())
    table = "\n".join(
        f"{field:20} {total:5} cases  recall {1 - missed / total:.2%}"
        for field, (total, missed) in recall.items()
    )
    print(f"\nrecall per event field (bytes handed to Kafka):\n{table}")
    low = {f: m / t for f, (t, m) in recall.items() if m > 0.01 * t}
    assert not low, table


def test_detect_secrets_finds_nothing_in_the_published_fields(fields: FieldRun) -> None:
    # One syntax per format and field: the oracle is slow, and the syntax matters little to it.
    seen: set[tuple[str, str]] = set()
    flagged = []
    for case in field_cases():
        if (case.name, case.field) in seen:
            continue
        seen.add((case.name, case.field))
        for value in fields.place(case.field, case.value):
            for text in FIELD_TEXTS[case.field](_DECODE(value)):
                if text and findings(text):
                    flagged.append((case.name, case.field, text, findings(text)))
    assert not flagged, flagged[:10]


def test_detect_secrets_flags_the_same_fields_unredacted() -> None:
    # The oracle can fail: on the raw values it finds most provider tokens.
    raw = {c.name: c.value for c in field_cases() if (c.field, c.syntax) == ("tool_name", "bare")}
    assert sum(bool(findings(text)) for text in raw.values()) >= len(raw) // 2


def test_values_with_no_secret_come_out_as_they_went_in(fields: FieldRun) -> None:
    changed = []
    for field, values in benign_field_values().items():
        for text in values:
            for value in fields.place(field, text):
                event = _DECODE(value)
                published = [t for t in FIELD_TEXTS[field](event) if t is not None]
                if text not in published or event["payload"]["redactions"]:
                    changed.append((field, text, published))
    assert not changed, changed


def test_a_redacted_field_is_counted_on_both_phases(fields: FieldRun) -> None:
    uri = "postgres://app:Sup3rSecretPw@db.internal:5432/prod"
    events = [_DECODE(v) for v in fields.place("resource_uri", uri)]
    read = [e for e in events if e["phase"] in ("ATTEMPT", "RESULT")]
    assert len(read) == 2
    for event in read:
        assert event["target"]["resource_uri"] == (
            "postgres://app:[REDACTED:url_password]@db.internal:5432/prod"
        )
        assert event["payload"]["redactions"] == 1
    assert fields.auditor.counters.redactions >= 3  # the API's RESOURCE_READ too


def test_an_error_text_follows_the_class_rule_for_results(fields: FieldRun) -> None:
    text = "no record for patient 4711 (alice@example.com)"
    high = _result(fields.place("error_text_high", text))
    fields.auditor.policy = Policy(tools={"patient_*": "low"})
    low = _result(fields.place("error_text_high", text))
    digest = fields.auditor.minimiser.of_value(text)
    assert high["outcome"]["error_message"] is None  # HIGH keeps results as digest only
    assert high["payload"]["result_digest"] == digest
    assert low["outcome"]["error_message"] == "no record for patient 4711 ([REDACTED:email])"
    assert low["payload"]["result_digest"] == digest


def _result(values: list[bytes]) -> dict[str, Any]:
    return next(e for e in map(_DECODE, values) if e["phase"] == "RESULT")


def test_a_permission_subject_is_its_pseudonym(fields: FieldRun) -> None:
    event = _DECODE(fields.place("permission_subject", "carol@example.com")[0])
    pseudonymise = fields.auditor.pseudonymise
    assert event["attributes"]["subject"] == pseudonymise("carol@example.com")
    assert event["attributes"]["subject_key_id"] == pseudonymise.key_id
