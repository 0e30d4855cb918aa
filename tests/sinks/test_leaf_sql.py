"""The sealer's fold in ClickHouse against schemas.merkle.Frontier, the Python tree that
verify and third parties check with (itself held to RFC 6962's vectors)."""

from __future__ import annotations

import random
import uuid

import pytest
from clickhouse_connect.driver.client import Client

from schemas.digest import DigestError, Leaf
from schemas.merkle import Frontier, root
from sinks import digests, leaf_sql
from sinks.digests import LEAF_COLUMNS, from_micros
from sinks.leaf_sql import fold_leaves, leaf_hashes
from sinks.migrate import apply_migrations

pytestmark = pytest.mark.clickhouse


def _leaves(client: Client, start: int, count: int, rng: random.Random) -> list[bytes]:
    """``count`` random leaves stored at ``start`` on; their leaf hashes, by Python."""
    rows, hashes = [], []
    for index in range(start, start + count):
        leaf = Leaf(
            str(uuid.UUID(int=rng.getrandbits(128))), f"stream-{rng.randrange(3)}", index,
            f"{rng.getrandbits(256):064x}", rng.randrange(10**15), rng.choice([30, 2555]), 2,
            rng.choice(["event", "alert"]), f"{rng.getrandbits(512):0128x}",
        )  # fmt: skip
        rows.append([index, uuid.UUID(leaf.event_id), leaf.stream_id, leaf.seq, leaf.hash,
                     from_micros(leaf.event_time_us), leaf.retention_days, leaf.version,
                     leaf.kind, leaf.content_hash])  # fmt: skip
        hashes.append(leaf.leaf_hash())
    if rows:
        client.insert("audit_tree_leaves", rows, column_names=list(LEAF_COLUMNS))
    return hashes


# Sizes on and around powers of two, where the frontier's subtrees merge.
APPENDS = [
    [0],
    [1],
    [1, 1, 1, 1],
    [3, 1],
    [2, 5],
    [7, 1, 8],
    [8, 8],
    [5, 27],
    [31, 1, 33],
    [64, 0, 63],
]


@pytest.mark.parametrize("appends", APPENDS, ids=str)
def test_the_fold_in_clickhouse_is_the_python_frontier(
    clickhouse: Client, appends: list[int]
) -> None:
    apply_migrations(clickhouse)
    rng = random.Random(str(appends))
    frontier, expected = Frontier(), Frontier()
    for count in appends:
        expected.extend(_leaves(clickhouse, expected.size, count, rng))
        frontier = fold_leaves(clickhouse, frontier)
        assert (frontier.size, frontier.hashes) == (expected.size, expected.hashes)
    assert frontier.root() == root(leaf_hashes(clickhouse, 0))


def test_a_catch_up_folds_in_chunks(clickhouse: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_migrations(clickhouse)
    monkeypatch.setattr(leaf_sql, "FOLD_CHUNK", 4)
    expected = Frontier()
    expected.extend(_leaves(clickhouse, 0, 11, random.Random(11)))
    frontier = fold_leaves(clickhouse, Frontier())
    assert (frontier.size, frontier.hashes) == (expected.size, expected.hashes)


@pytest.mark.parametrize("missing", [0, 5, 9])
def test_a_missing_leaf_stops_the_fold_and_is_named(clickhouse: Client, missing: int) -> None:
    apply_migrations(clickhouse)
    _leaves(clickhouse, 0, 10, random.Random(missing))
    clickhouse.command(
        "ALTER TABLE audit_tree_leaves DELETE WHERE leaf_index = {i:UInt64}",
        parameters={"i": missing},
        settings={"mutations_sync": 2},
    )
    _leaves(clickhouse, 10, 3, random.Random(missing))
    with pytest.raises(DigestError) as raised:
        fold_leaves(clickhouse, Frontier())
    assert raised.value.fields == {"first": missing, "next": missing + 1}


def test_the_sealers_heavy_queries_yield_the_cpu() -> None:
    """The append and the fold run at nice 19 (docs/benchmarks.md: +1.8% of ingestion
    time with the sealer beside the sink, against +10.4% at the usual priority)."""
    for sql in (digests._APPEND_SQL, digests._APPEND_ALERTS_SQL, leaf_sql._FOLD_SQL):
        assert sql.endswith(leaf_sql.LOW_PRIORITY)
