"""The dashboard's doors over a real socket: Host, cross-site headers, token, methods."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from mcp_audit.embedded.broker import free_port
from readside.dashboard.app import build_app
from readside.session import ReadSide
from readside.tokens import Tokens
from tests.conftest import serving
from tests.readside.conftest import access_rows

pytestmark = pytest.mark.clickhouse


@pytest.fixture
def port(side: ReadSide, tokens: Tokens) -> Iterator[int]:
    chosen = free_port()
    with serving(build_app(side, tokens, chosen), chosen):
        yield chosen


def get(port: int, path: str, **headers: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "rebound.attacker.example"},
        {"Host": "127.0.0.1.nip.io:8321"},
        {"Origin": "http://attacker.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
    ids=["rebinding", "rebinding-lookalike", "origin", "fetch-site"],
)
def test_foreign_hosts_and_cross_site_requests_are_refused(
    port: int, tokens: Tokens, headers: dict[str, str], seeded: Client
) -> None:
    bearer = {"Authorization": f"Bearer {tokens.ensure('alice')}"}
    status, body = get(port, "/api/page?hours=24", **bearer, **headers)
    assert status == 403 and b"read_file" not in body
    assert access_rows(seeded) == []  # refused before any read


def test_the_api_needs_the_token_and_names_its_operator(
    port: int, tokens: Tokens, seeded: Client
) -> None:
    assert get(port, "/api/page?hours=24")[0] == 401
    assert get(port, "/api/page?hours=24", Authorization="Bearer wrong-token-000000")[0] == 401
    status, body = get(port, "/api/page?hours=24", Authorization=f"Bearer {tokens.ensure('alice')}",
                       **{"X-ClickHouse-User": "mallory"})  # fmt: skip
    assert status == 200 and b"summary" in body
    assert get(port, "/")[0] == 200  # the page itself carries no data
    operators = [r["attributes"]["operator"] for r in access_rows(seeded)]  # type: ignore[index]
    assert operators == ["unauthenticated", "unauthenticated", "alice"]
