"""The sealer: appends stored events to the Merkle log and signs a tree head per period.

Lifecycle: :meth:`Sealer.cycle` runs every ``MCP_AUDIT_SINK_SEAL_EVERY_S``
(``mcp-audit digest --every`` as a service of its own; ``mcp-audit up`` in a
thread). Each cycle appends the events stored since the last one as leaves
(``audit_tree_leaves``), then signs a head for every period that closed, up to
now, empty ones too (``audit_tree_heads``), and publishes each head outside the
store (:mod:`sinks.head_publishers`).

What the sealer trusts: not the store's past. Its tree's right edge
(:class:`~schemas.merkle.Frontier`) and its last head live in its own state
file beside the key, outside the store, so leaves or heads rewritten in the
store afterwards no longer hash to the roots it signs. Events deleted from the
store before a cycle appended them (at most ``seal_every_s``) are what it
cannot see; a continuing stream still shows them as a chain gap.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.digest import DigestError, InclusionProof, Leaf, Signer, TreeHead, sign_head
from schemas.integrity import to_micros
from schemas.merkle import Frontier, consistency_proof, inclusion_proof
from sinks.head_publishers import HeadPublisher
from sinks.leaf_sql import LOW_PRIORITY, fold_leaves, leaf_hashes

log = logging.getLogger(__name__)
GRACE = timedelta(minutes=5)  # late events of a period are in once it ended this long ago
STATE_NAME = "sealer-state.json"
LEAF_COLUMNS = (
    "leaf_index",
    "event_id",
    "stream_id",
    "seq",
    "hash",
    "event_time",
    "retention_days",
    "leaf_version",
    "kind",
    "content_hash",
)
HEAD_COLUMNS = (
    "period_start", "period_s", "tree_size", "root_hash", "prev_head_hash", "sealed_at",
    "key_id", "head_hash", "signature",
)  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class SealerState:
    """What the sealer keeps apart from the store."""

    frontier: Frontier = field(default_factory=Frontier)
    last_head: TreeHead | None = None
    first_event_us: int | None = None
    seen_block: int = -1  # insert blocks of audit_events up to this one were read (_new_parts)
    seen_alert_block: int = -1  # the same for audit_alerts (a state from before: none yet)

    @classmethod
    def load(cls, path: Path) -> SealerState:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        frontier = Frontier(int(data["tree_size"]), [bytes.fromhex(h) for h in data["frontier"]])
        head = TreeHead.from_dict(data["last_head"]) if data["last_head"] else None
        seen = int(data["seen_block"]), int(data.get("seen_alert_block", -1))
        return cls(frontier, head, data["first_event_us"], *seen)

    def save(self, path: Path) -> None:
        data = {
            "tree_size": self.frontier.size,
            "frontier": [h.hex() for h in self.frontier.hashes],
            "last_head": self.last_head.as_dict() if self.last_head else None,
            "first_event_us": self.first_event_us,
            "seen_block": self.seen_block,
            "seen_alert_block": self.seen_alert_block,
        }
        scratch = path.with_suffix(".tmp")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, path)


class Sealer:
    def __init__(
        self,
        client: Client,
        signer: Signer,
        state_dir: Path,
        period_s: int,
        publishers: Sequence[HeadPublisher] = (),
    ) -> None:
        self.client = client
        self.signer = signer
        self.period_s = period_s
        self.publishers = list(publishers)
        self.state_path = state_dir / STATE_NAME
        self.state = SealerState.load(self.state_path)
        if self.state.last_head is None and stored_heads(client):
            raise DigestError(
                "the store holds tree heads but the sealer has no state: restore the key"
                " directory rather than start a new log over the old one",
                state=str(self.state_path),
            )

    def cycle(self, now: int | None = None) -> tuple[int, list[TreeHead]]:
        """Append what is new, then sign every closed period; (leaves appended, heads)."""
        now = now_us() if now is None else now
        appended = self.append()
        return appended, self.sign_closed(now)

    def append(self) -> int:
        """Append the event and alert versions stored since the last cycle: events first,
        then alerts, each oldest first."""
        size = self.state.frontier.size
        (parts, newest), (alert_parts, newest_alert) = _new_parts(
            self.client, self.state.seen_block, self.state.seen_alert_block
        )
        if (
            not parts
            and not alert_parts
            and (newest, newest_alert)
            == (
                self.state.seen_block,
                self.state.seen_alert_block,
            )
        ):
            # Nothing stored since the last cycle: no state to save. Saving it anyway
            # (an fsync) cost 20 ms a cycle, every cycle (bench/bench_sink.py, profiled).
            return 0
        if parts:
            self.client.command(_APPEND_SQL, parameters={"parts": parts, "size": size})
        if alert_parts:
            after = size
            if parts:  # where the events appended just now end
                rows = self.client.query(
                    "SELECT count() FROM audit_tree_leaves FINAL WHERE leaf_index >= {a:UInt64}",
                    parameters={"a": size},
                ).result_rows
                after += int(rows[0][0])
            self.client.command(
                _APPEND_ALERTS_SQL, parameters={"parts": alert_parts, "size": after}
            )
        if parts or alert_parts:
            self.state.frontier = fold_leaves(self.client, self.state.frontier)
        if self.state.frontier.size > size and self.state.last_head is None:
            # The first head's period starts at the oldest leaf, looked at again each
            # cycle until that head is signed: events stored after the first append but
            # older than its leaves (a producer's clock behind) have their period sealed.
            rows = self.client.query("SELECT min(event_time) FROM audit_tree_leaves").result_rows
            self.state.first_event_us = to_micros(rows[0][0])
        self.state.seen_block, self.state.seen_alert_block = newest, newest_alert
        self.state.save(self.state_path)
        return self.state.frontier.size - size

    def sign_closed(self, now: int) -> list[TreeHead]:
        period_us = self.period_s * 1_000_000
        previous = self.state.last_head
        if previous is not None:
            start = previous.period_end_us
        elif self.state.first_event_us is not None:
            start = self.state.first_event_us // period_us * period_us
        else:
            return []  # nothing stored yet: no period to seal
        signed = []
        while start + period_us + GRACE // timedelta(microseconds=1) <= now:
            frontier = self.state.frontier
            previous = sign_head(
                self.signer, start, self.period_s, frontier.size, frontier.root(),
                previous.head_hash if previous else "", now,
            )  # fmt: skip
            signed.append(previous)
            start += period_us
        if not signed:
            return []
        # One insert and one state save for every period closed since the last cycle:
        # a sealer catching up on 360 hours (a store first sealed days after its oldest
        # event, or after downtime) spent 45 ms per head on an insert and an fsync each.
        # The store gets the heads before the state names the last, as it did one by one.
        rows = []
        for head in signed:
            row = head.as_dict()
            row["period_start"] = from_micros(row.pop("period_start_us"))
            row["sealed_at"] = from_micros(row.pop("sealed_at_us"))
            rows.append([row[c] for c in HEAD_COLUMNS])
        self.client.insert("audit_tree_heads", rows, column_names=list(HEAD_COLUMNS))
        self.state.last_head = signed[-1]
        self.state.save(self.state_path)
        for head in signed:
            for publisher in self.publishers:
                try:
                    publisher.publish(head)
                except Exception:  # one unreachable copy must not stop sealing
                    log.exception(
                        "publishing the tree head with %s failed", type(publisher).__name__
                    )
        return signed


NewParts = tuple[list[str], int]


def _new_parts(client: Client, seen_block: int, seen_alert_block: int) -> tuple[NewParts, NewParts]:
    """For audit_events and audit_alerts: the active parts holding an insert block after
    the one seen, and the newest block. Each insert is a new block number, so this finds
    what was stored since the last cycle, late events included, without scanning older
    rows: a window of the last day scanned every cycle cost the sink 36% of its ingestion
    rate with a cycle a second (bench/bench_sink.py). One query for both tables: a look
    at system.parts cost about 30 ms (profiled, a cycle a second)."""
    rows = client.query(
        "SELECT table, name, max_block_number FROM system.parts"
        " WHERE database = currentDatabase() AND table IN ('audit_events', 'audit_alerts')"
        " AND active AND max_block_number > if(table = 'audit_events', {b:Int64}, {a:Int64})",
        parameters={"b": seen_block, "a": seen_alert_block},
    ).result_rows
    found: dict[str, NewParts] = {}
    for table, seen in (("audit_events", seen_block), ("audit_alerts", seen_alert_block)):
        mine = [(str(name), int(block)) for t, name, block in rows if t == table]
        found[table] = [n for n, _ in mine], max((b for _, b in mine), default=seen)
    return found["audit_events"], found["audit_alerts"]


# Stored event versions in the new parts that are not among the first ``size`` leaves
# become version 2 leaves ``size``, ``size + 1``, ... An event already sealed (either
# version) is not appended again (a redelivery, a merge of parts already read; a forged
# copy inserted anew stays unsealed and verify names it), but for the one version that
# legitimately follows: the processors' INCOMPLETE version of an attempt (its chained
# phase ATTEMPT), if its content is not sealed yet. The first set is of event ids, as
# before leaves held content; the second only of the few ids of INCOMPLETE rows. Copies
# of one (event, stream, seq, content_hash) are one leaf: LIMIT 1 BY, not GROUP BY with
# any()/min(), since content_hash covers the hash, time, retention, call state and phase
# a leaf takes (sinks.tables), so such copies agree on them; the GROUP BY over two long
# strings cost 2.9 us a row against 1.0 (100,000 rows, chDB, same run).
# The leaves are numbered in the order ClickHouse reads them: numbering them oldest
# first (a window over a six-column sort) took 0.27 s of the SELECT's 0.44 s of CPU for
# 500,000 rows (chDB, same run). Any order makes one tree, since the indices are what is
# signed; an append written again after a crash (the state not saved) rewrites every
# index from ``size`` on with a later appended_at, for the same rows and any since.
_SEALED_SQL = (
    "(SELECT event_id FROM audit_tree_leaves WHERE leaf_index < {size:UInt64}"
    " AND kind = '%s' AND event_time >= (SELECT min(event_time) FROM fresh))"
)
_APPEND_SQL = (
    f"INSERT INTO audit_tree_leaves ({', '.join(LEAF_COLUMNS)})"
    " SELECT {size:UInt64} + rowNumberInAllBlocks(),"
    " e, s, q, h, t, d, 2, 'event', c FROM (WITH fresh AS (SELECT event_id, stream_id, seq,"
    " hash, event_time, retention_days, content_hash,"
    " call_state = 'INCOMPLETE' AND phase = 'ATTEMPT' AS incomplete"
    " FROM audit_events WHERE _part IN {parts:Array(String)} AND stream_id != '')"
    " SELECT event_id AS e, stream_id AS s, seq AS q, hash AS h, event_time AS t,"
    " retention_days AS d, content_hash AS c FROM fresh"
    f" WHERE event_id NOT IN {_SEALED_SQL % 'event'} OR (incomplete AND (event_id,"
    " content_hash) NOT IN (SELECT event_id, content_hash FROM audit_tree_leaves"
    " WHERE leaf_index < {size:UInt64} AND kind = 'event'"
    " AND event_id IN (SELECT event_id FROM fresh WHERE incomplete))) LIMIT 1 BY e, s, q, c)"
    + LOW_PRIORITY
)
# Alert versions likewise: each (alert, content_hash) once; a folded alert stored again
# with its final count is a new version. Alerts stored before row hashes are not sealed.
_APPEND_ALERTS_SQL = (
    f"INSERT INTO audit_tree_leaves ({', '.join(LEAF_COLUMNS)})"
    " SELECT {size:UInt64} + row_number() OVER (ORDER BY t, e, q, c) - 1,"
    " e, '', q, '', t, d, 2, 'alert', c FROM (WITH fresh AS (SELECT alert_id AS event_id,"
    " count, alert_time AS event_time, retention_days, content_hash FROM audit_alerts"
    " WHERE _part IN {parts:Array(String)} AND content_hash != '')"
    " SELECT event_id AS e, count AS q, min(event_time) AS t, any(retention_days) AS d,"
    " content_hash AS c FROM fresh WHERE (event_id, content_hash) NOT IN (SELECT event_id,"
    " content_hash FROM audit_tree_leaves WHERE leaf_index < {size:UInt64} AND kind = 'alert'"
    " AND event_time >= (SELECT min(event_time) FROM fresh)) GROUP BY e, q, c)" + LOW_PRIORITY
)


def stored_heads(client: Client) -> list[TreeHead]:
    rows = client.query(
        f"SELECT {', '.join(HEAD_COLUMNS)} FROM audit_tree_heads FINAL ORDER BY period_start"
    ).result_rows
    return [
        TreeHead(to_micros(start), int(p), int(size), str(r), str(prev), to_micros(sealed),
                 str(kid), str(hh), str(sig))
        for start, p, size, r, prev, sealed, kid, hh, sig in rows
    ]  # fmt: skip


def stored_leaves(client: Client, size: int, start: int = 0) -> Iterator[tuple[int, Leaf]]:
    """Leaves ``start`` .. ``size`` (excluded) as stored, by index (streamed)."""
    query = (
        "SELECT leaf_index, toString(event_id), stream_id, seq, hash, event_time, retention_days,"
        " leaf_version, kind, content_hash FROM audit_tree_leaves FINAL"
        " WHERE leaf_index >= {a:UInt64} AND leaf_index < {b:UInt64} ORDER BY leaf_index"
    )
    with client.query_row_block_stream(query, parameters={"a": start, "b": size}) as stream:
        for block in stream:
            for index, *values in block:
                yield int(index), leaf_of(values)


def leaf_of(row: Sequence[Any]) -> Leaf:
    """A :class:`Leaf` from the columns of ``audit_tree_leaves``, in LEAF_COLUMNS' order
    without ``leaf_index``."""
    event_id, stream_id, seq, hash_, when, days, version, kind, content_hash = row
    return Leaf(
        str(event_id), str(stream_id), int(seq), str(hash_), to_micros(when), int(days),
        int(version), str(kind), str(content_hash),
    )  # fmt: skip


def prove(client: Client, event_id: str) -> InclusionProof:
    """The inclusion proof of an event's (or an alert's) leaf under the newest head: of
    its newest version that head covers (an INCOMPLETE attempt, a folded alert's count)."""
    heads = stored_heads(client)
    found = client.query(
        "SELECT min(leaf_index), maxIf(leaf_index, leaf_index < {size:UInt64}),"
        " countIf(leaf_index < {size:UInt64}) FROM audit_tree_leaves FINAL"
        " WHERE event_id = toUUIDOrZero({e:String}) HAVING count() > 0",
        parameters={"e": event_id, "size": heads[-1].tree_size if heads else 0},
    ).result_rows
    if not found:
        raise DigestError(
            "no sealed leaf for this event (not stored, or not sealed yet)", event_id=event_id
        )
    if not int(found[0][2]):
        raise DigestError("the event's leaf is not under a signed head yet", event_id=event_id)
    index, head = int(found[0][1]), heads[-1]
    hashes = leaf_hashes(client, 0, head.tree_size)
    if len(hashes) != head.tree_size:
        raise DigestError(
            "the store lacks leaves of the signed tree", expected=head.tree_size, found=len(hashes)
        )
    leaf = next(leaf for i, leaf in stored_leaves(client, index + 1, index) if i == index)
    path = [h.hex() for h in inclusion_proof(hashes, index, head.tree_size)]
    return InclusionProof(leaf, index, head, path)


def prove_consistency(client: Client, old: TreeHead, new: TreeHead) -> list[str]:
    """The RFC 6962 consistency proof that ``old``'s tree is a prefix of ``new``'s: a
    third party holding both signed heads checks it with
    :func:`schemas.merkle.verify_consistency`."""
    hashes = leaf_hashes(client, 0, new.tree_size)
    return [h.hex() for h in consistency_proof(hashes, old.tree_size, new.tree_size)]
