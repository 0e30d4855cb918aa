"""A data subject's rights: erasure (GDPR Art. 17) and export (Art. 20), by pseudonym.

Rows name users only by the producers' keyed pseudonym, HMAC-SHA256(key, user
id) in hex. Give the user id and the key (settings) or the pseudonym itself.
Erasure clears the personal values outside the hash chain
(:data:`sinks.tables.ERASABLE`) in every row of the subject, keeps the
chained fields, so the integrity check still passes, and records the subject
so rows arriving later are cleared on insert. It runs synchronously.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from clickhouse_connect.driver.client import Client

from readside.mutations import mutate
from sinks.cluster import SINGLE_NODE, Layout
from sinks.errors import SinkError
from sinks.tables import ERASABLE

_PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")


def pseudonym(user_id: str, key: bytes) -> str:
    """The producers' pseudonym of ``user_id``: HMAC-SHA256 under ``key``, hex."""
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def subject_pseudonym(user_id: str | None, given: str | None, key: bytes | None) -> str:
    """The pseudonym to act on, from ``--pseudonym`` or from ``--subject`` and the key."""
    if given:
        if not _PSEUDONYM.match(given):
            raise SinkError("a pseudonym is 64 lowercase hex characters", pseudonym=given)
        return given
    if not user_id:
        raise SinkError("name the subject (--subject) or its pseudonym (--pseudonym)")
    if key is None:
        raise SinkError(
            "no pseudonym key configured (MCP_AUDIT_SINK_PSEUDONYM_KEY); pass --pseudonym"
        )
    return pseudonym(user_id, key)


def erase(client: Client, subject: str, operator: str, layout: Layout = SINGLE_NODE) -> int:
    """Clear the subject's personal values; returns how many event rows were touched."""
    touched = count_rows(client, subject)
    client.insert("erased_subjects", [[subject, operator]], column_names=["user_id", "erased_by"])
    for table, columns in ERASABLE.items():
        _clear(client, table, columns, subject, layout)
    return touched


def count_rows(client: Client, subject: str) -> int:
    result = client.query(
        "SELECT count() FROM audit_events FINAL WHERE user_id = {s:String}",
        parameters={"s": subject},
    )
    return int(result.result_rows[0][0])


def export(client: Client, subject: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every stored row of the subject, oldest first (deduplicated)."""
    result = client.query(
        "SELECT * FROM audit_events FINAL WHERE user_id = {s:String}"
        " ORDER BY event_time, stream_id, seq",
        parameters={"s": subject},
    )
    return list(result.column_names), [tuple(row) for row in result.result_rows]


def _clear(
    client: Client, table: str, columns: dict[str, str], subject: str, layout: Layout
) -> None:
    assignments = ", ".join(f"{column} = {empty}" for column, empty in columns.items())
    mutate(
        client,
        f"ALTER TABLE {table} UPDATE {assignments} WHERE user_id = {{s:String}}",
        {"s": subject},
        {"mutations_sync": 2},
        layout,
    )
