"""Check stored rows against the content their sealed leaves hold.

:mod:`sinks.row_check` recomputes each row's ``content_hash`` from its values; that
alone passes a row rewritten together with both of its hashes. A version 2 leaf
(:class:`schemas.digest.Leaf`) seals the ``content_hash`` of each stored version of
an event or an alert under a signed head, so here every stored row is compared with
its leaves, in one scan in ClickHouse. Per event or alert (``kind``):

* ``forged version``: a stored row that says it is a later version (an event's
  INCOMPLETE version, an alert with a count above 1) but is not one the pipeline
  makes: not shaped as the processors make it (an INCOMPLETE version names its own
  attempt, ``call:incomplete`` and the ``incomplete_call`` anomaly, and no stored
  result answered that attempt; a folded alert's evidence ids match its count up to
  ALERT_MAX_EVIDENCE), with no earlier version stored or sealed, or changing what
  every version keeps: the first half of each ``content_hash`` hashes those values
  (:meth:`sinks.tables.TableSpec.content_hash_sql`), so it is compared with the
  sealed leaves' even after merges kept only the newest row. The reason names the
  rules broken and, when more versions are stored, the kept columns that differ;
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
keeps both hashes; legal holds change ``legal_hold``, which no hash covers and
:mod:`sinks.row_check` compares with the recorded holds; retention deletes rows whose
sealed retention has passed.

What still passes: a version shaped right and keeping every kept value, with other
varying values (an INCOMPLETE version's risk score, a count raised beyond
ALERT_MAX_EVIDENCE with real evidence ids), written before the processors' own; only a
key the processors hold could tell those apart (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from schemas.models import ALERT_MAX_EVIDENCE, INCOMPLETE_DETECTOR, INCOMPLETE_REASON
from sinks.digests import from_micros
from sinks.enriched import ENRICHED
from sinks.head_publishers import DETECTOR as HEAD_DETECTOR
from sinks.tables import TableSpec, alerts_spec, sql_string

PROBLEMS = ("forged version", "altered", "rolled back", "resealed", "deleted")
_DETAIL = {
    "forged version": "a later version not as the pipeline makes one: {why} (newest leaf {leaf})",
    "altered": "content matches none of its sealed leaves (the newest is leaf {leaf})",
    "rolled back": "its newest sealed version (leaf {leaf}) is no longer stored",
    "resealed": "sealed again with other content, not as the pipeline does (leaf {leaf})",
    "deleted": "sealed as leaf {leaf}, not in the store, its sealed retention not passed",
}
_STABLE_HEX = 64  # content_hash: the stable half first (sinks.tables.TableSpec.content_hash_sql)


@dataclass(frozen=True)
class _Kind:
    kind: str
    spec: TableSpec
    id_column: str
    where: str
    seq: str  # what a version carries beside its content (an alert's count)
    pending: str  # a row that may be a legitimate new version, not sealed yet
    is_pending: str  # over a stored version x = (content_hash, pending, seq, claims, shaped)
    legit: str  # several sealed versions, as the pipeline makes them
    claims: str  # a stored row that says it is a later version of its event or alert
    shape: tuple[tuple[str, str], ...]  # (what, SQL true of a later version as made)
    preceded: str  # over x: an earlier version exists, stored or sealed

    @property
    def table(self) -> str:
        return self.spec.table

    def shaped(self) -> str:
        return " AND ".join(f"({sql})" for _, sql in self.shape)


# A result the processors paired with its attempt: that attempt never expired.
_ANSWERED = (
    "event_id NOT IN (SELECT toUUIDOrZero(attempt_event_id) FROM audit_events"
    " WHERE call_state = 'COMPLETE' AND attempt_event_id IN"
    " (SELECT toString(event_id) FROM audit_events WHERE call_state = 'INCOMPLETE'))"
)
# Every evidence id of a counted alert is an event the store holds or the log sealed
# (retention may have taken the row, never the leaf). Only those alerts' ids are read.
_COUNTED_EVIDENCE = (
    "SELECT toUUIDOrZero(arrayJoin(evidence_event_ids)) FROM audit_alerts WHERE count > 1"
)
_EVIDENCED = (
    "hasAll((SELECT groupUniqArray(toString(id)) FROM (SELECT event_id AS id FROM audit_events"
    f" WHERE event_id IN ({_COUNTED_EVIDENCE}) UNION ALL SELECT event_id FROM audit_tree_leaves"
    f" WHERE kind = 'event' AND event_id IN ({_COUNTED_EVIDENCE}))), evidence_event_ids)"
)
_EVENTS = _Kind(
    "event", ENRICHED, "event_id", "stream_id != ''",
    "toUInt64(call_state = 'INCOMPLETE' AND phase = 'ATTEMPT')",
    "call_state = 'INCOMPLETE' AND phase = 'ATTEMPT'"
    " AND event_time BETWEEN {cut:DateTime64(6)} AND {now:DateTime64(6)}",
    "x.2",
    "versions = 2 AND arrayExists(x -> x.1 = newest AND x.3 = 1, stored)",
    "call_state = 'INCOMPLETE'",
    (
        ("its chained phase is not ATTEMPT", "phase = 'ATTEMPT'"),
        ("attempt_event_id is not its own id", "attempt_event_id = toString(event_id)"),
        ("attempt_time is not its event_time", "ifNull(attempt_time = event_time, 0)"),
        (f"risk_reasons lack {INCOMPLETE_REASON}", f"has(risk_reasons, '{INCOMPLETE_REASON}')"),
        (f"anomalies are not just {INCOMPLETE_DETECTOR}",
         f"arrayMap(a -> a.1, anomalies) = ['{INCOMPLETE_DETECTOR}']"),
        ("a stored result answered its attempt", _ANSWERED),
    ),
    "old_versions > 0 OR arrayExists(c -> c != x.1, contents)",
)  # fmt: skip
_ALERTS = _Kind(
    "alert", alerts_spec(0), "alert_id", "content_hash != ''", "toUInt64(count)",
    "window_end BETWEEN {cut:DateTime64(6)} AND {now:DateTime64(6)}",
    "x.2 AND x.3 > top_seq",
    "newest_seq = top_seq AND countEqual(sealed_seqs, top_seq) = 1",
    # A tree head on the alert topic was published with its tree size as count before
    # heads were first versions (count 1): such a row claims nothing (stores of then).
    f"count > 1 AND NOT (detector = '{HEAD_DETECTOR}'"
    " AND attributes['tree_size'] = toString(count))",
    (
        ("window_end is before window_start", "window_end >= window_start"),
        ("more evidence ids than its count", "length(evidence_event_ids) <= count"),
        (f"its count is not backed by evidence ids (up to {ALERT_MAX_EVIDENCE})",
         f"empty(evidence_event_ids) OR length(evidence_event_ids)"
         f" = least(count, {ALERT_MAX_EVIDENCE})"),
        ("evidence ids name no stored or sealed event", _EVIDENCED),
    ),
    "has(sealed_seqs, 1) OR arrayExists(y -> y.3 = 1, stored)",
)  # fmt: skip


@dataclass(frozen=True)
class SealedMismatch:
    table: str
    row_id: str
    verdict: str
    leaf_index: int
    why: str = ""  # a forged version: what gave it away, and which values

    def describe(self) -> str:
        detail = _DETAIL[self.verdict].format(leaf=self.leaf_index, why=self.why)
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
SELECT verdict, count(), groupArray({int(limit)})((toString(id), newest_leaf, forged)) FROM (
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
    groupArrayIf((c, p, q, claims, shaped), src = 1) AS stored,
    arrayConcat(sealed, arrayMap(x -> x.1, stored)) AS contents,
    arrayDistinct(arrayFilter(h -> h != '', arrayMap(
      c -> if(length(c) = {2 * _STABLE_HEX}, substring(c, 1, {_STABLE_HEX}), ''), contents)))
      AS stables,
    multiIf(
      arrayExists(x -> x.4 AND NOT x.5, stored), 'not shaped as the pipeline makes it',
      arrayExists(x -> x.4 AND NOT ({spec.preceded}), stored),
        'no earlier version stored or sealed',
      length(stables) > 1 AND arrayExists(x -> x.4, stored),
        'it changes what every version keeps', '') AS forged,
    multiIf(
      forged != '', 'forged version',
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
      toUnixTimestamp64Micro(event_time) + retention_days * 86400000000 AS expires,
      toUInt8(0) AS claims, toUInt8(0) AS shaped
    FROM audit_tree_leaves FINAL WHERE kind = '{spec.kind}' AND leaf_index < {{size:UInt64}}
    UNION ALL
    SELECT {spec.id_column}, 1, toUInt8(0), content_hash, toUInt64(0), {spec.seq},
      toUInt8({spec.pending}), toInt64(0), toUInt8({spec.claims}),
      toUInt8({spec.claims} AND {spec.shaped()})
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
                    SealedMismatch(spec.table, str(row_id), str(verdict), int(leaf),
                                   _why(client, spec, str(row_id), str(forged)) if forged else "")
                    for row_id, leaf, forged in named
                ]  # fmt: skip
    return result


def _why(client: Client, spec: _Kind, row_id: str, forged: str) -> str:
    """The verdict's reason, with what the forged version gets wrong: the shape rules it
    breaks, and the kept values in which the stored versions differ (when more are)."""
    broken = ", ".join(f"if(NOT ({sql}), {sql_string(what)}, '')" for what, sql in spec.shape)
    differing = ", ".join(
        f"if(uniqExact(formatRowNoNewline('RowBinary', {c})) > 1, {sql_string(c)}, '')"
        for c in spec.spec.stable_columns()
    )
    where = f"{spec.id_column} = toUUID({{id:String}})"
    shape, kept = client.query(
        f"SELECT (SELECT arrayDistinct(arrayFlatten(groupArray(arrayFilter(w -> w != '',"
        f" [{broken}])))) FROM {spec.table} WHERE {where} AND {spec.claims}),"
        f" arrayFilter(w -> w != '', [{differing}]) FROM {spec.table} WHERE {where}",
        parameters={"id": row_id},
    ).result_rows[0]
    parts = [forged, *shape]
    if kept:
        parts.append("its stored versions differ in " + ", ".join(kept))
    return "; ".join(parts)
