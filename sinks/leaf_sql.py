"""The sealed log's leaves hashed and folded by ClickHouse, next to the data.

:data:`LEAF_HASH_SQL` is the SQL twin of :meth:`schemas.digest.Leaf.leaf_hash`, and
:func:`fold_leaves` the SQL twin of :meth:`schemas.merkle.Frontier.extend`; tests hold
each equal to its Python twin. The sealer uses both. verify and the proofs hash leaves
here but fold them in Python, so a fault in the fold would make verify disagree with
the sealer's signed roots instead of agreeing with it.
"""

from __future__ import annotations

import struct

from clickhouse_connect.driver.client import Client

from schemas.digest import DigestError
from schemas.merkle import Frontier

# The SQL twin of schemas.digest.Leaf.encode (tests/sinks/test_digests.py holds them equal):
# hashing leaves in ClickHouse instead of per row in Python took sealing from 36-52% of
# the sink's ingestion time to the figure in docs/benchmarks.md.
_COMMON_SQL = (
    "toString(event_id), '\\n', toString(length(stream_id)), ':', stream_id,"
    " '\\n', toString(seq), '\\n', toString(length(hash)), ':', hash, '\\n',"
    " toString(toUnixTimestamp64Micro(event_time)), '\\n', toString(retention_days)"
)
LEAF_SQL = (
    f"if(leaf_version = 1, concat('leaf/v1\\n', {_COMMON_SQL}), concat('leaf/v2\\n', kind,"
    f" '\\n', {_COMMON_SQL}, '\\n', toString(length(content_hash)), ':', content_hash))"
)
LEAF_HASH_SQL = f"SHA256(concat(char(0), {LEAF_SQL}))"

# The sealer's heavy queries run at the lowest CPU priority (nice 19 for every thread
# of the query): sealing can wait for an idle core, ingestion beside it should not.
# A query contending with one so marked ran as fast as alone (0.34 s against 0.35),
# and took 0.65 s beside the same query at the usual priority (chDB, 2 cores). On a
# machine ingestion keeps busy the sealer falls behind instead; verify names what stays
# unsealed longer than MCP_AUDIT_SINK_SEAL_LATENESS_S.
LOW_PRIORITY = " SETTINGS os_thread_priority = 19"
# Leaves folded per query: bounds the query's arrays (32 bytes a leaf, a few copies)
# when a sealer catches up on millions of leaves at once.
FOLD_CHUNK = 1 << 20
# One level of the tree per step. ``b`` is the level's new nodes, after the frontier's
# node of that level when the level starts at an odd position (the step's ``odd``): its
# pairs become the next level, and a node left without a right sibling is the new
# frontier's node of that level. The frontier comes out smallest subtree first.
_LEVEL_NODES = (
    "if({odd:Array(UInt8)}[lv], arrayPushFront(acc.1, toFixedString(unhex({old:Array(String)}[lv]),"
    " 32)), acc.1)"
)
_FOLD_SQL = (
    "SELECT n, lo, hi, arrayFold((acc, lv) -> ("
    f"arrayMap(i -> SHA256(concat(char(1), {_LEVEL_NODES}[2 * i - 1], {_LEVEL_NODES}[2 * i])),"
    f" range(1, toUInt64(intDiv(length({_LEVEL_NODES}), 2)) + 1)),"
    f" if(length({_LEVEL_NODES}) % 2 = 1, arrayPushBack(acc.2, {_LEVEL_NODES}[-1]), acc.2)),"
    " range(1, {levels:UInt8} + 1), (hashed, CAST([], 'Array(FixedString(32))'))).2 AS edge"
    " FROM (SELECT count() AS n, min(leaf_index) AS lo, max(leaf_index) AS hi,"
    f" arraySort((h, i) -> i, groupArray({LEAF_HASH_SQL}), groupArray(leaf_index)) AS hashed"
    " FROM audit_tree_leaves FINAL"
    " WHERE leaf_index >= {a:UInt64} AND leaf_index < {b:UInt64})" + LOW_PRIORITY
)


def leaf_hashes(client: Client, start: int, stop: int | None = None) -> list[bytes]:
    """Leaf hashes ``start`` .. ``stop`` (excluded; None: to the end), by index, made by
    ClickHouse from the stored leaves; raises if an index is missing."""
    where = "leaf_index >= {a:UInt64}" + ("" if stop is None else " AND leaf_index < {b:UInt64}")
    data = client.raw_query(
        f"SELECT leaf_index, {LEAF_HASH_SQL} FROM audit_tree_leaves FINAL WHERE {where}"
        " ORDER BY leaf_index",
        parameters={"a": start, "b": stop or 0},
        fmt="RowBinary",
    )
    hashes = []
    for expected, (index, digest) in enumerate(struct.iter_unpack("<Q32s", data), start):
        if index != expected:
            raise DigestError("log leaves are missing from the store", first=expected, next=index)
        hashes.append(digest)
    return hashes


def fold_leaves(client: Client, frontier: Frontier) -> Frontier:
    """``frontier`` extended by every stored leaf from its size on, by index: the leaves
    hashed and folded into the tree by ClickHouse, so only the new right edge (one hash
    per set bit of the size) comes back. Raises if an index is missing.

    In Python the fold held the GIL for 0.23 s per 500,000 leaves, and reading their
    hashes into it took 0.3 s of CPU more; the sink ingesting beside the sealer waited on both
    (docs/benchmarks.md)."""
    while True:
        start = frontier.size
        # As many levels as the tree can have after this chunk: each costs a step even
        # with nothing in it (64 levels: 16 ms a fold of 200 leaves, 24: 9 ms).
        levels = (start + FOLD_CHUNK).bit_length()
        odd, old = [], []
        smallest_first = iter(reversed(frontier.hashes))
        for level in range(levels):
            bit = start >> level & 1
            odd.append(bit)
            old.append(next(smallest_first).hex() if bit else "")
        bounds = {"a": start, "b": start + FOLD_CHUNK, "levels": levels}
        [(count, low, high, edge)] = client.query(
            _FOLD_SQL, parameters={**bounds, "odd": odd, "old": old}
        ).result_rows
        if not count:
            return frontier
        if (low, high) != (start, start + count - 1):
            leaf_hashes(client, start, start + FOLD_CHUNK)  # raises, naming the gap
            raise DigestError("log leaves changed while they were read", first=start, next=low)
        frontier = Frontier(start + count, [bytes(h) for h in reversed(edge)])
        if count < FOLD_CHUNK:
            return frontier
