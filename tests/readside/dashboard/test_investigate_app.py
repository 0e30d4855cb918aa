"""The investigation's JSON doors over a real socket, attacked: token, Host, Origin, and
hostile values at every parameter (repeated, huge, quoted, unicode, NUL, wrong type)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest

from readside.tokens import Tokens
from tests.readside.conftest import access_rows
from tests.readside.dashboard.investigation_store import MALLORY, Investigation, served
from tests.readside.dashboard.test_app import get

pytestmark = pytest.mark.clickhouse
ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def port(inv: Investigation, clickhouse_url: str, tokens: Tokens) -> Iterator[int]:
    with served(inv, clickhouse_url, tokens) as (chosen, _):
        yield chosen


def _api(port: int, tokens: Tokens, path: str, **headers: str) -> tuple[int, object]:
    status, body = get(port, path, Authorization=f"Bearer {tokens.ensure('alice')}", **headers)
    return status, json.loads(body)


def _paths(inv: Investigation) -> dict[str, str]:
    """A well-formed request to each investigation endpoint."""
    event = inv.by(call_id="call-mallory-0", phase="RESULT")[0]["event_id"]
    return {
        "search": "/api/search?hours=24&user=" + MALLORY,
        "alert": f"/api/alert?id={inv.alert_id}",
        "user": f"/api/user?user={MALLORY}&hours=720",
        "event": f"/api/event?id={event}",
    }


def test_each_view_answers_the_token_holder_and_records_the_access(
    port: int, tokens: Tokens, inv: Investigation
) -> None:
    paths = _paths(inv)
    status, found = _api(port, tokens, paths["search"])
    assert status == 200 and {e["user"] for e in found} == {MALLORY}  # type: ignore[attr-defined]
    status, alert = _api(port, tokens, paths["alert"])
    assert status == 200 and len(alert["events"]) == 2  # type: ignore[index]
    status, trail = _api(port, tokens, paths["user"])
    assert status == 200 and trail["total"] == 4  # type: ignore[index]
    status, record = _api(port, tokens, paths["event"])
    # The app found the public key in the signing key directory: the head's signature checks.
    assert status == 200 and record["checks"]["sealed"]["ok"] is True  # type: ignore[index]
    assert _api(port, tokens, f"/api/event?id={ZERO}") == (200, None)
    actions = [r["attributes"]["action"] for r in access_rows(inv.client)]  # type: ignore[index]
    for action in ("dashboard-find", "dashboard-alert", "dashboard-user", "dashboard-event"):
        assert action in actions


@pytest.mark.parametrize("view", ["search", "alert", "user", "event"])
def test_without_the_token_or_from_elsewhere_nothing_is_answered(
    port: int, tokens: Tokens, inv: Investigation, view: str
) -> None:
    path = _paths(inv)[view]
    assert get(port, path)[0] == 401
    assert get(port, path, Authorization="Bearer wrong-token-000000")[0] == 401
    bearer = {"Authorization": f"Bearer {tokens.ensure('alice')}"}
    for hostile in ({"Host": "rebound.attacker.example"}, {"Origin": "http://attacker.example"},
                    {"Sec-Fetch-Site": "cross-site"}):  # fmt: skip
        status, body = get(port, path, **bearer, **hostile)
        assert status == 403 and MALLORY.encode() not in body


HOSTILE_VALUES = {
    "sql quote": "' OR 1=1 --",
    "drop": "x'); DROP TABLE audit_events; --",
    "backslash": "\\'",
    "unicode": "ünïcødé ✓ 🙂 \u202e",
    "placeholder": "{user:String}",
}


def test_hostile_text_is_a_value_never_sql(port: int, tokens: Tokens, inv: Investigation) -> None:
    stored = inv.client.command("SELECT count() FROM audit_events")
    for value in HOSTILE_VALUES.values():
        for name in ("user", "session", "call", "trace", "request", "tool", "server"):
            status, found = _api(port, tokens, f"/api/search?{urlencode({name: value})}")
            assert (status, found) == (200, []), (name, value)
        status, trail = _api(port, tokens, f"/api/user?{urlencode({'user': value})}")
        assert status == 200 and trail["total"] == 0  # type: ignore[index]
        for path in ("/api/event", "/api/alert"):  # ids must be UUIDs
            assert _api(port, tokens, f"{path}?{urlencode({'id': value})}")[0] == 400
    assert inv.client.command("SELECT count() FROM audit_events") >= stored  # nothing dropped


REFUSED = [
    "/api/search?user=a&user=b",  # repeated: which one?
    "/api/search?tool=" + "x" * 257,  # longer than any name
    "/api/search?user=" + quote("a\x00b"),
    "/api/search?status=%27+OR+1%3D1+--",  # not a status
    "/api/search?risk=EXTREME",
    "/api/search?type=HEARTBEAT%27",
    "/api/search?hours=0",
    "/api/search?hours=-1",
    "/api/search?hours=99999999999999999999",
    "/api/search?hours=%D9%A3",  # an Arabic-Indic digit: isdigit() says yes
    "/api/search?hours[]=24",
    "/api/search?from=yesterday&to=today",
    "/api/search?from=2026-12-02T00:00:00&to=2026-12-01T00:00:00",  # ends before it starts
    "/api/search?from=1900-01-01T00:00:00&to=2026-12-01T00:00:00",
    "/api/search?from=2020-01-01T00:00:00&to=2026-12-01T00:00:00",  # longer than a year
    "/api/search?limit=100000",
    "/api/search?noise=yes",
    "/api/user",  # no user
    "/api/user?user=" + "x" * 10_000,
    "/api/user?user=a&hours=24&hours=720",
    "/api/event",
    "/api/event?id=",
    "/api/event?id=" + ZERO + "&id=" + ZERO,
    "/api/event?id=" + "0" * 5000,
    "/api/alert?id=[1,2]",
    "/api/event?id=" + ZERO + "&sql=SELECT+1",  # a parameter no endpoint takes
]


def test_malformed_parameters_are_refused_and_recorded(
    port: int, tokens: Tokens, inv: Investigation
) -> None:
    for path in REFUSED:
        status, body = _api(port, tokens, path)
        assert status == 400 and "error" in body, path  # type: ignore[operator]
        assert "DROP" not in str(body) and "x" * 257 not in str(body)  # no value echoed
    refused = [r for r in access_rows(inv.client) if r["status"] != "SUCCESS"]
    reasons = [r["attributes"]["reason"] for r in refused]  # type: ignore[index]
    assert reasons == ["BadRequest"] * len(REFUSED)  # the session recorded each refusal
