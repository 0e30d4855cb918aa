"""The query endpoint as an attacker on this machine meets it: a real socket, real clients.

The honest client is clickhouse-connect with the token as its password. The attacks:
no token, a wrong one, a chosen user name, a foreign Host (DNS rebinding), cross-site
headers, SQL in a GET, a huge body, a slow client, more connections than allowed.
"""

from __future__ import annotations

import http.client
import os
import socket
import time

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from readside.endpoint import QueryEndpoint
from readside.tokens import Tokens
from tests.readside.conftest import LIMITS, access_rows

pytestmark = pytest.mark.clickhouse
SQL = "SELECT count() FROM audit_events WHERE event_type != 'AUDIT_ACCESS'"


def post(endpoint: QueryEndpoint, body: bytes, **headers: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def honest(endpoint: QueryEndpoint, tokens: Tokens, user: str = "default") -> Client:
    return clickhouse_connect.get_client(
        host="127.0.0.1", port=endpoint.port, username=user, password=tokens.ensure("alice")
    )


def test_the_token_names_the_operator_not_the_user_header(
    endpoint: QueryEndpoint, tokens: Tokens, seeded: Client
) -> None:
    client = honest(endpoint, tokens, user="mallory")
    assert client.query(SQL).result_rows == [(30,)]

    recorded = access_rows(seeded)
    assert {r["attributes"]["operator"] for r in recorded} == {"alice"}  # type: ignore[index]
    assert SQL in {r["attributes"]["sql"] for r in recorded}  # type: ignore[index]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-ClickHouse-Key": "not-the-token-at-all"}, 401),
        ({"X-ClickHouse-User": "alice"}, 401),
        ({"Host": "attacker.example:8124"}, 403),
        ({"Origin": "http://attacker.example"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Content-Type": "text/plain", "Origin": "null"}, 403),
    ],
    ids=[
        "no-token",
        "wrong-token",
        "user-header",
        "rebinding-host",
        "origin",
        "fetch-site",
        "null-origin",
    ],
)
def test_requests_without_the_token_or_from_elsewhere_are_refused_and_recorded(
    endpoint: QueryEndpoint, seeded: Client, headers: dict[str, str], status: int
) -> None:
    answer = post(endpoint, SQL.encode(), **headers)
    assert answer[0] == status
    assert b"30" not in answer[1]
    (recorded,) = access_rows(seeded)
    assert recorded["status"] == "DENIED"
    assert recorded["attributes"]["operator"] == "unauthenticated"  # type: ignore[index]


def test_sql_in_a_get_is_refused(endpoint: QueryEndpoint) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    connection.request("GET", "/?query=" + SQL.replace(" ", "+"))
    assert connection.getresponse().status == 405


def test_a_huge_body_is_refused_unread(endpoint: QueryEndpoint, tokens: Tokens) -> None:
    before = _rss()
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as raw:
        raw.sendall(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{endpoint.port}\r\n"
            f"X-ClickHouse-Key: {tokens.ensure('alice')}\r\n"
            f"Content-Length: {300 * 2**20}\r\n\r\n".encode()
        )
        raw.sendall(b"SELECT 1 " * 10_000)
        assert raw.recv(200).startswith(b"HTTP/1.1 403")
    assert _rss() - before < 20 * 2**20


def test_slow_and_idle_clients_are_dropped_and_connections_are_bounded(
    endpoint: QueryEndpoint, tokens: Tokens
) -> None:
    idle = [socket.create_connection(("127.0.0.1", endpoint.port)) for _ in range(12)]
    try:
        idle[0].sendall(b"POST / HTTP/1.1\r\nHost: ")  # a slow loris never finishes
        refused = 0
        for extra in idle[LIMITS.max_connections :]:
            extra.settimeout(5)
            refused += extra.recv(100).startswith(b"HTTP/1.1 503")
        assert refused == 12 - LIMITS.max_connections
        time.sleep(LIMITS.idle_timeout_s + 1.5)  # the silent ones are closed by the server
        idle[0].settimeout(5)
        assert idle[0].recv(100) == b""
        assert honest(endpoint, tokens).query(SQL).result_rows == [(30,)]
    finally:
        for connection in idle:
            connection.close()


def test_writes_and_file_reads_are_refused_through_the_endpoint(
    endpoint: QueryEndpoint, tokens: Tokens, seeded: Client
) -> None:
    client = honest(endpoint, tokens)
    for sql in (
        "ALTER TABLE audit_events DELETE WHERE 1",
        "SELECT file('/etc/hostname')",
        "SELECT * FROM file('/etc/hostname', 'LineAsString') SETTINGS readonly = 0",
    ):
        with pytest.raises(DatabaseError):
            client.command(sql) if sql.startswith("ALTER") else client.query(sql).result_rows
    assert seeded.query(SQL).result_rows == [(30,)]


def _rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
