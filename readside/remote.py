"""The read side seen from another process: a running ``up``'s query endpoint, with a token.

chDB allows one process per data directory, so while ``mcp-audit up`` owns
the embedded store, ``mcp-audit query`` asks its endpoint instead, presenting
this user's token from the token file (readable by this user only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import clickhouse_connect

from readside.endpoint import port_answers
from readside.tokens import Tokens
from readside.web import require_loopback
from schemas.errors import PlatformError


def endpoint_query(
    url: str, token_file: Path, statement: str, *, required: bool
) -> tuple[list[str], list[tuple[Any, ...]]] | None:
    """Columns and rows from the endpoint at ``url``; None if none answers (not ``required``)."""
    host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
    require_loopback(host, "query endpoint")
    if not port.isdigit() or not port_answers(int(port)):
        if required:
            raise PlatformError("the query endpoint does not answer", url=url)
        return None
    token = Tokens(token_file).own_token()
    try:
        client = clickhouse_connect.get_client(
            host=host, port=int(port), username="token", password=token
        )
        result = client.query(statement)
    except Exception as exc:
        raise PlatformError("the query endpoint refused or failed", url=url) from exc
    return list(result.column_names), [tuple(row) for row in result.result_rows]
