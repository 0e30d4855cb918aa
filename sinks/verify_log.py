"""Check the sealed log against its signed heads, the published copies and the store.

:func:`check_log` names every way the store and its heads disagree:

* a head whose signature or content fails, or that does not follow the one before;
* a closed period with no head, from the first head (or event) up to now, so
  cutting the newest heads with their events shows;
* stored leaves that no longer hash to a signed root (a leaf removed, altered
  or added: this covers a stream deleted whole with its leaves);
* a published head (:mod:`sinks.head_publishers`) the store lacks or differs from;
* a sealed event absent from the store whose own sealed retention has not
  passed (``missing``); one that has is ``expired``, on the sealed record's word;
* stored events no head covers although older than the sealer's lateness window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.digest import DigestError, Leaf, TreeHead, check_head
from schemas.integrity import to_micros
from schemas.merkle import Frontier
from sinks.digests import GRACE, from_micros, leaf_of, stored_heads
from sinks.leaf_sql import leaf_hashes

_GRACE_US = int(GRACE.total_seconds() * 1_000_000)
_CHUNK = 1_000_000


@dataclass(frozen=True)
class AbsentLeaf:
    leaf_index: int
    leaf: Leaf
    expired: bool


@dataclass
class LogReport:
    """``problems`` with the heads and the log; ``absent``: sealed events the store lacks."""

    heads: list[TreeHead]
    problems: list[str] = field(default_factory=list)
    absent: list[AbsentLeaf] = field(default_factory=list)
    unsealed: int = 0

    @property
    def expired(self) -> set[tuple[str, int]]:
        return {(a.leaf.stream_id, a.leaf.seq) for a in self.absent if a.expired}

    def missing(self, stream_id: str) -> list[AbsentLeaf]:
        return [a for a in self.absent if not a.expired and a.leaf.stream_id == stream_id]

    @property
    def sealed_from_us(self) -> int | None:
        return self.heads[0].period_start_us if self.heads else None


def _when(us: int) -> str:
    return f"{from_micros(us):%Y-%m-%d %H:%M}"


def check_log(
    client: Client,
    public_key: Ed25519PublicKey | None,
    period_s: int,
    now_us: int,
    *,
    allowance_s: float = 60.0,
    lateness_s: int = 86_400,
    published: Iterable[TreeHead] = (),
) -> LogReport:
    heads = stored_heads(client)
    report = LogReport(heads)
    problems = report.problems
    _check_coverage(client, heads, period_s, now_us, allowance_s, problems)
    if not heads and not published:
        return report
    if public_key is None:
        problems.append("tree heads not checked: no public key")
        return report
    good = _check_heads(heads, public_key, problems)
    _check_published(heads, published, public_key, problems)
    if not heads:
        return report
    size = heads[-1].tree_size
    _check_roots(client, good, size, problems)
    report.absent = _absent_leaves(client, size, now_us)  # per stream: the caller names them
    cut = heads[-1].sealed_at_us - lateness_s * 1_000_000
    report.unsealed, stale = _unsealed(client, size, cut)
    if stale:
        problems.append(
            f"{stale} stored events older than {_when(cut)} are in no tree head:"
            " added to the store after sealing"
        )
    return report


def _check_heads(
    heads: list[TreeHead], public_key: Ed25519PublicKey, problems: list[str]
) -> list[TreeHead]:
    good = []
    previous: TreeHead | None = None
    for head in heads:
        where = f"tree head {_when(head.period_start_us)}"
        try:
            check_head(head, public_key)
            good.append(head)
        except DigestError as exc:
            problems.append(f"{where}: {exc.message}")
        if previous is None:
            if head.prev_head_hash:
                problems.append(f"{where}: the heads before it are missing")
        else:
            if head.period_start_us != previous.period_end_us:
                gap = f"{_when(previous.period_end_us)} to {_when(head.period_start_us)}"
                problems.append(f"tree heads missing for the periods from {gap}")
            elif head.prev_head_hash != previous.head_hash:
                problems.append(f"{where}: does not follow the previous head")
            if head.tree_size < previous.tree_size:
                problems.append(f"{where}: the tree shrank from {previous.tree_size}")
        previous = head
    return good


def _check_coverage(
    client: Client,
    heads: list[TreeHead],
    period_s: int,
    now_us: int,
    allowance_s: float,
    problems: list[str],
) -> None:
    """A head for every closed period up to now (empty periods have one too)."""
    period_us = period_s * 1_000_000
    closed_before = (
        now_us - _GRACE_US - int(allowance_s * 1_000_000)
    )  # a period ending later may await its cycle
    if heads:
        start = heads[-1].period_end_us
    else:
        rows = client.query(
            "SELECT min(event_time), count() FROM audit_events WHERE stream_id != ''"
        ).result_rows
        if not rows[0][1]:
            return
        start = to_micros(rows[0][0]) // period_us * period_us
    missing = 0
    while start + missing * period_us + period_us <= closed_before:
        missing += 1
    if missing:
        end = start + missing * period_us
        what = "no tree heads at all" if not heads else "tree heads missing"
        problems.append(
            f"{what}: {missing} closed periods from {_when(start)} to {_when(end)} are unsealed"
        )


def _check_published(
    heads: list[TreeHead],
    published: Iterable[TreeHead],
    public_key: Ed25519PublicKey,
    problems: list[str],
) -> None:
    stored = {head.period_start_us: head for head in heads}
    for head in published:
        where = f"published tree head {_when(head.period_start_us)} (size {head.tree_size})"
        try:
            check_head(head, public_key)
        except DigestError as exc:
            problems.append(f"{where}: {exc.message}")
            continue
        mine = stored.get(head.period_start_us)
        if mine is None:
            problems.append(f"{where}: missing from the store")
        elif mine.head_hash != head.head_hash:
            problems.append(f"{where}: the store's head for that period differs")


def _check_roots(client: Client, heads: list[TreeHead], size: int, problems: list[str]) -> None:
    """Recompute every root from the stored leaves, in one pass."""
    by_size: dict[int, list[TreeHead]] = {}
    for head in heads:
        by_size.setdefault(head.tree_size, []).append(head)
    frontier = Frontier()

    def compare() -> None:
        for head in by_size.pop(frontier.size, []):
            if frontier.root().hex() != head.root_hash:
                problems.append(
                    f"tree head {_when(head.period_start_us)}: the stored leaves do not hash to"
                    " its signed root (leaves removed, altered or inserted)"
                )

    compare()
    while frontier.size < size:
        try:  # hashed by ClickHouse from the stored fields, a million at a time
            chunk = leaf_hashes(client, frontier.size, min(size, frontier.size + _CHUNK))
        except DigestError as exc:
            first, following = exc.fields["first"], exc.fields["next"]
            problems.append(f"log leaves {first}..{following - 1} are missing from the store")
            break
        if not chunk:
            break
        for hashed in chunk:
            frontier.append(hashed)
            if frontier.size in by_size:
                compare()
    for heads_left in by_size.values():
        for head in heads_left:
            problems.append(
                f"tree head {_when(head.period_start_us)}: the store holds {frontier.size} of"
                f" its {head.tree_size} leaves"
            )


def _absent_leaves(client: Client, size: int, now_us: int) -> list[AbsentLeaf]:
    """Sealed leaves whose event (with that hash) is no longer stored."""
    rows = client.query(
        "SELECT l.leaf_index, toString(l.event_id), l.stream_id, l.seq, l.hash, l.event_time,"
        " l.retention_days, l.leaf_version, l.kind, l.content_hash FROM (SELECT * FROM"
        " audit_tree_leaves FINAL WHERE leaf_index < {size:UInt64} AND kind = 'event') AS l"
        " LEFT ANTI JOIN (SELECT DISTINCT event_id, hash FROM audit_events) AS e"
        " ON l.event_id = e.event_id AND l.hash = e.hash ORDER BY l.leaf_index",
        parameters={"size": size},
    ).result_rows
    absent: dict[str, AbsentLeaf] = {}  # an event sealed in two versions is absent once
    for index, *values in rows:
        leaf = leaf_of(values)
        absent.setdefault(leaf.event_id, AbsentLeaf(int(index), leaf, leaf.expires_us <= now_us))
    return list(absent.values())


def _unsealed(client: Client, size: int, cut_us: int) -> tuple[int, int]:
    """Stored events in no head: all of them, and those older than ``cut_us``."""
    rows = client.query(
        "SELECT count(), countIf(event_time < {cut:DateTime64(6)}) FROM audit_events"
        " WHERE stream_id != '' AND event_id NOT IN (SELECT event_id FROM audit_tree_leaves"
        " FINAL WHERE leaf_index < {size:UInt64})",
        parameters={"cut": from_micros(cut_us), "size": size},
    ).result_rows
    return int(rows[0][0]), int(rows[0][1])
