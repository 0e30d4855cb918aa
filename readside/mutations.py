"""Row mutations the read side runs (erasure, legal holds), in the store's layout.

A single-node store runs ``ALTER TABLE t UPDATE ...`` as written. In cluster mode
``t`` is a Distributed table, which refuses mutations: the statement runs on every
shard's local table instead (``ON CLUSTER``), rewritten by the same
:class:`sinks.cluster.Layout` the migrations use, so the two cannot disagree.
"""

from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.cluster import SINGLE_NODE, Layout


def mutate(
    client: Client,
    sql: str,
    parameters: dict[str, Any],
    settings: dict[str, Any],
    layout: Layout = SINGLE_NODE,
) -> None:
    """Run the mutation ``sql`` on every table that holds the rows, synchronously."""
    for statement in layout.rewrite(sql):
        client.command(statement, parameters=parameters, settings={**layout.settings, **settings})
