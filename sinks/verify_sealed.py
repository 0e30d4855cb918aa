"""Check stored rows against the content their sealed leaves hold.

:mod:`sinks.row_check` recomputes each row's ``content_hash`` from its values; that
alone passes a row rewritten together with both of its hashes. A version 2 leaf
(:class:`schemas.digest.Leaf`) seals the ``content_hash`` of each stored version of
an event or an alert under a signed head, so here every stored row is compared with
its leaves, in one scan in ClickHouse. Per event or alert (``kind``):

* ``altered``: a stored version whose content_hash is in none of its sealed leaves,
  and is not a legitimate new version still waiting for the sealer;
* ``rolled back``: the newest sealed version is no longer stored, and no newer one is;
* ``resealed``: sealed again with other content, not as the pipeline does (an event:
  more than the attempt and its INCOMPLETE version, or the second not an INCOMPLETE
  attempt, its chained phase ATTEMPT; an alert: the newest version not the one
  highest count);
* ``deleted`` (alerts; events are named by :mod:`sinks.verify_log`): no version
  stored, although the sealed retention has not passed;
* ``pending``: a legitimate new version not sealed yet (the processors' INCOMPLETE
  version of an attempt, a folded alert with a higher count) no older than the
  sealer's lateness window: the next cycle seals it;
* ``superseded``: sealed more than once, legitimately (the newest is stored).

What changes after sealing without a new version: erasure clears personal values and
keeps both hashes; legal holds change ``legal_hold``, which no hash covers; retention
deletes rows whose sealed retention has passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from sinks.digests import from_micros

PROBLEMS = ("altered", "rolled back", "resealed", "deleted")
_DETAIL = {
    "altered": "content matches none of its sealed leaves (the newest is leaf {leaf})",
    "rolled back": "its newest sealed version (leaf {leaf}) is no longer stored",
    "resealed": "sealed again with other content, not as the pipeline does (leaf {leaf})",
    "deleted": "sealed as leaf {leaf}, not in the store, its sealed retention not passed",
}


@dataclass(frozen=True)
class _Kind:
    kind: str
    table: str
    id_column: str
    where: str
    seq: str  # what a version carries beside its content (an alert's count)
    pending: str  # a row that may be a legitimate new version, not sealed yet
    is_pending: str  # over a stored version x = (content_hash, pending, seq)
    legit: str  # several sealed versions, as the pipeline makes them


_EVENTS = _Kind(
    "event", "audit_events", "event_id", "stream_id != ''",
    "toUInt64(call_state = 'INCOMPLETE' AND phase = 'ATTEMPT')",
    "call_state = 'INCOMPLETE' AND phase = 'ATTEMPT'"
    " AND event_time BETWEEN {cut:DateTime64(6)} AND {now:DateTime64(6)}",
    "x.2",
    "versions = 2 AND arrayExists(x -> x.1 = newest AND x.3 = 1, stored)",
)  # fmt: skip
_ALERTS = _Kind(
    "alert", "audit_alerts", "alert_id", "content_hash != ''", "toUInt64(count)",
    "window_end BETWEEN {cut:DateTime64(6)} AND {now:DateTime64(6)}",
    "x.2 AND x.3 > top_seq",
    "newest_seq = top_seq AND countEqual(sealed_seqs, top_seq) = 1",
)  # fmt: skip


@dataclass(frozen=True)
class SealedMismatch:
    table: str
    row_id: str
    verdict: str
    leaf_index: int

    def describe(self) -> str:
        detail = _DETAIL[self.verdict].format(leaf=self.leaf_index)
        return f"{self.table} {self.row_id}: {self.verdict}: {detail}"


@dataclass
class SealedCheck:
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, verdict)
    named: list[SealedMismatch] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(n for (_, v), n in self.counts.items() if v == verdict)

    @property
    def problems(self) -> int:
        return sum(self.count(v) for v in PROBLEMS)


def _query(spec: _Kind, limit: int) -> str:
    return f"""
SELECT verdict, count(), groupArray({int(limit)})((toString(id), newest_leaf)) FROM (
  SELECT id,
    groupArrayIf(c, src = 0 AND v = 2) AS sealed,
    groupArrayIf(q, src = 0 AND v = 2) AS sealed_seqs,
    countIf(src = 0 AND v = 2) AS versions,
    countIf(src = 0 AND v = 1) AS old_versions,
    argMaxIf(c, idx, src = 0 AND v = 2) AS newest,
    maxIf(idx, src = 0) AS newest_leaf,
    argMaxIf(q, idx, src = 0 AND v = 2) AS newest_seq,
    maxIf(q, src = 0 AND v = 2) AS top_seq,
    maxIf(expires, src = 0) AS expires_us,
    groupArrayIf((c, p, q), src = 1) AS stored,
    multiIf(
      versions = 0, if(old_versions > 0 AND notEmpty(stored), 'sealed before content', ''),
      empty(stored), if('{spec.kind}' = 'alert' AND expires_us > {{now_us:Int64}}, 'deleted', ''),
      arrayExists(x -> NOT has(sealed, x.1) AND NOT ({spec.is_pending}), stored), 'altered',
      versions > 1 AND NOT ({spec.legit}), 'resealed',
      NOT has(arrayMap(x -> x.1, stored), newest)
        AND NOT arrayExists(x -> {spec.is_pending}, stored), 'rolled back',
      arrayExists(x -> NOT has(sealed, x.1), stored), 'pending',
      versions > 1, 'superseded',
      'ok') AS verdict
  FROM (
    SELECT event_id AS id, 0 AS src, leaf_version AS v, content_hash AS c, leaf_index AS idx,
      seq AS q, toUInt8(0) AS p,
      toUnixTimestamp64Micro(event_time) + retention_days * 86400000000 AS expires
    FROM audit_tree_leaves FINAL WHERE kind = '{spec.kind}' AND leaf_index < {{size:UInt64}}
    UNION ALL
    SELECT {spec.id_column}, 1, toUInt8(0), content_hash, toUInt64(0), {spec.seq},
      toUInt8({spec.pending}), toInt64(0)
    FROM {spec.table} WHERE {spec.where}
  ) GROUP BY id
) WHERE verdict NOT IN ('', 'ok') GROUP BY verdict ORDER BY verdict"""


def check_sealed(
    client: Client, size: int, cut_us: int, now_us: int, limit: int = 100
) -> SealedCheck:
    """Compare every stored event and alert with the leaves among the first ``size`` (the
    newest head's); a version younger than ``cut_us`` may still await the sealer.
    Names up to ``limit`` rows per kind and verdict."""
    result = SealedCheck()
    parameters = {
        "size": size, "cut": from_micros(cut_us), "now": from_micros(now_us), "now_us": now_us,
    }  # fmt: skip
    for spec in (_EVENTS, _ALERTS):
        rows = client.query(_query(spec, limit), parameters=parameters).result_rows
        for verdict, count, named in rows:
            result.counts[(spec.kind, str(verdict))] = int(count)
            if verdict in PROBLEMS:
                result.named += [
                    SealedMismatch(spec.table, str(row_id), str(verdict), int(leaf))
                    for row_id, leaf in named
                ]
    return result
