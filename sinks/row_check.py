"""Which stored rows no longer hash to what the sink stored: altered, or erased on record.

Each row of ``audit_events`` and ``audit_alerts`` carries ``content_hash`` and
``personal_hash``, computed by the sink's INSERT (:mod:`sinks.tables`). Here both
are recomputed from the stored values, in ClickHouse (one scan, no row leaves it
unless it fails):

* ``content_hash`` differs: a value a reader relies on was changed after the
  insert (risk, tags, anomalies, call state, the chained fields, an alert's
  severity...), or the hash itself was;
* ``legal_hold`` differs from what the recorded holds (``legal_holds``) say of the
  row: placing and releasing a hold set it so (:mod:`readside.holds`), so a flag
  cleared or set by hand is named (cleared, it lets retention delete a held row);
* ``personal_hash`` differs: the personal values changed. That is an erasure
  when the subject is in ``erased_subjects`` (recorded by ``mcp-audit erase``,
  itself an audited access) and every personal value is what erasure leaves;
  anything else is an alteration.

Rows stored before migration 120 have no hashes and are counted apart. Rows hashed
before migration 150 (session id, resource URI and prompt name hashed as content)
read ``hash_version`` 1 and are recomputed by that formula
(:data:`sinks.enriched.HASHED_BEFORE_150`); rows since, by the current one.
``mcp-audit verify`` runs the check. A row rewritten together with both of its
hashes passes it; the sealed leaves hold each row version's ``content_hash``, and
:mod:`sinks.verify_sealed` compares the stored rows with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from sinks.enriched import ENRICHED
from sinks.tables import ERASED, TableSpec, alerts_spec, held

_ID = {"audit_events": "event_id", "audit_alerts": "alert_id"}


@dataclass(frozen=True)
class AlteredRow:
    table: str
    row_id: str
    user_id: str
    what: str  # "content", "personal" or "legal hold"

    def describe(self) -> str:
        if self.what == "legal hold":
            return (
                f"{self.table} {self.row_id}: legal_hold says otherwise than the recorded"
                " holds (legal_holds) do"
            )
        part = "values outside the personal ones" if self.what == "content" else (
            "personal values, not by a recorded erasure")  # fmt: skip
        return f"{self.table} {self.row_id}: {part} changed after it was stored"


@dataclass
class RowCheck:
    checked: int = 0
    erased: int = 0  # rows whose personal values a recorded erasure cleared
    unhashed: int = 0  # rows stored before hashes existed (migration 120)
    altered: list[AlteredRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.altered


def check_rows(client: Client, limit: int = 100) -> RowCheck:
    """Recompute every stored row's hashes; name up to ``limit`` altered rows per table."""
    result = RowCheck()
    for spec in (ENRICHED, alerts_spec(0)):
        _check_table(client, spec, limit, result)
    return result


def _verdicts(spec: TableSpec) -> str:
    # Each row by the formula it was hashed with: its hash_version's spec (migration 150),
    # and within it the content hash's length (64 hex digits before stable halves).
    content = spec.by_hash_version(TableSpec.stored_content_hash_sql)
    personal = spec.by_hash_version(TableSpec.personal_hash_sql)
    cleared = spec.by_hash_version(TableSpec.cleared_sql)
    return (
        f"content_hash != {content} AS content_altered,"
        f" legal_hold != {held(spec.time_column)} AS hold_altered,"
        f" personal_hash != {personal} AS personal_changed,"
        f" personal_changed AND {ERASED} AND ({cleared}) AS erased"
    )


def _check_table(client: Client, spec: TableSpec, limit: int, result: RowCheck) -> None:
    # Every stored version, no FINAL: a row not yet merged away is a row a reader may see.
    counts = client.query(
        f"SELECT countIf(content_hash != ''), countIf(content_hash = ''),"
        f" countIf(content_hash != '' AND erased AND NOT content_altered)"
        f" FROM (SELECT content_hash, {_verdicts(spec)} FROM {spec.table})"
    ).result_rows[0]
    result.checked += int(counts[0])
    result.unhashed += int(counts[1])
    result.erased += int(counts[2])
    rows = client.query(
        f"SELECT toString({_ID[spec.table]}), user_id,"
        " multiIf(content_altered, 'content', hold_altered, 'legal hold', 'personal') FROM"
        f" (SELECT {_ID[spec.table]}, user_id, content_hash, {_verdicts(spec)} FROM {spec.table})"
        " WHERE (content_hash != '' AND (content_altered OR (personal_changed AND NOT erased)))"
        f" OR hold_altered ORDER BY 1 LIMIT {int(limit)}"
    ).result_rows
    result.altered += [AlteredRow(spec.table, str(i), str(u), str(what)) for i, u, what in rows]


@dataclass(frozen=True)
class EventRowCheck:
    """What :func:`check_rows` says of one event's stored versions."""

    versions: int = 0
    unhashed: int = 0
    erased: int = 0
    altered: tuple[str, ...] = ()  # "content", "legal hold" or "personal", per altered version

    @classmethod
    def of(cls, verdicts: list[tuple[bool, bool, str]]) -> EventRowCheck:
        """From the ``row_verdict`` of each stored version (:func:`event_verdict_columns`)."""
        return cls(
            versions=len(verdicts),
            unhashed=sum(1 for hashed, _, _ in verdicts if not hashed),
            erased=sum(1 for _, erased, _ in verdicts if erased),
            altered=tuple(str(what) for _, _, what in verdicts if what),
        )

    @property
    def ok(self) -> bool | None:
        return None if self.versions == self.unhashed else not self.altered

    def describe(self) -> str:
        if self.altered:
            return "; ".join(
                AlteredRow("audit_events", "", "", what).describe().split(": ", 1)[1]
                for what in self.altered
            )
        if self.ok is None:
            return "stored before rows were hashed (migration 120)"
        erased = f", {self.erased} erased on record" if self.erased else ""
        return f"{self.versions} stored version(s) hash as stored{erased}"


def event_verdict_columns() -> str:
    """Columns to add to a ``SELECT ... FROM audit_events`` naming :func:`check_rows`'
    verdicts of each row read; ``row_verdict`` sums them up for :meth:`EventRowCheck.of`
    (the others, ``content_altered``, ``hold_altered``, ``personal_changed`` and
    ``erased``, are its parts). One event's versions are read by the sorting key."""
    what = (
        "multiIf(content_hash = '' AND NOT hold_altered, '', content_altered, 'content',"
        " hold_altered, 'legal hold', personal_changed AND NOT erased, 'personal', '')"
    )
    hashed, cleared = "content_hash != ''", "erased AND NOT content_altered"
    return f"{_verdicts(ENRICHED)}, ({hashed}, {cleared}, {what}) AS row_verdict"
