"""How an Avro record becomes a row, what a legal hold covers, what erasure clears.

ClickHouse decodes the Avro itself (see :mod:`sinks.ocf`); a :class:`TableSpec`
holds the two halves of ``INSERT INTO table (columns) SELECT expressions FROM
<Avro input>``. Events: :mod:`sinks.enriched`; alerts: :func:`alerts_spec`.

Each row also gets two hashes at insert (migration 120): ``personal_hash`` over
the personal values as they arrived, and ``content_hash`` over everything else a
reader relies on plus ``personal_hash`` (:meth:`TableSpec.content_hash_sql`);
:mod:`sinks.row_check` recomputes both from stored rows, each row by the formula
it was hashed with (``hash_version``, :attr:`TableSpec.earlier_hashes`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.integrity import DIGESTED


def held(time_column: str) -> str:
    """True when a row falls under an active legal hold: TTL keeps it until release."""
    return f"""(
    user_id IN (SELECT value FROM legal_holds FINAL WHERE active AND kind = 'subject')
    OR server_id IN (SELECT value FROM legal_holds FINAL WHERE active AND kind = 'server')
    OR arrayExists(r -> {time_column} >= r.1 AND {time_column} < r.2, (
        SELECT groupArray((ifNull(time_from, toDateTime64(0, 6, 'UTC')),
                           ifNull(time_to, toDateTime64('2299-12-31', 6, 'UTC'))))
        FROM legal_holds FINAL WHERE active AND kind = 'time'))
)"""


# A folded alert is stored again with its final count; until merges keep one version,
# read the one with the highest count (counts only grow).
# What a call, a failure and high risk are: one definition each, used by the views
# (migration 110), the dashboard, the report, Grafana and the README's queries
# (tests/sinks/test_metrics.py holds them to these words). Every call is an ATTEMPT
# and a RESULT; the RESULT is the one counted, so heartbeats and one-off events never are.
CALL = "phase = 'RESULT'"
TOOL_CALL = f"event_type = 'TOOL_CALL' AND {CALL}"
FAILURE_STATUSES = ("ERROR", "DENIED", "TIMEOUT", "CANCELLED")
HIGH_RISK_LEVELS = ("HIGH", "CRITICAL")
FAILURE = f"status IN {FAILURE_STATUSES}"  # a tuple's repr is the SQL list
HIGH_RISK = f"risk_level IN {HIGH_RISK_LEVELS}"
LATEST_ALERTS = "(SELECT * FROM audit_alerts ORDER BY alert_id, count DESC LIMIT 1 BY alert_id)"
# events_first holds versions: sign 1 for each, -1 for one an INCOMPLETE version
# replaced (migration 170; the rest of the keep-first rule is migration 120's).
# Counts sum the signs; a state that cannot take a value back (a quantile) takes
# each event's first version (FIRST), as the views do; a listing the version FINAL
# shows (CURRENT): versions of sign 1 not REPLACED, the replaced ones looked up from
# the window's start, {since}.
FIRST = "sign = 1 AND NOT replaces"
REPLACED = (
    "(event_time, event_id, user_id, enriched_time) IN (SELECT event_time,"
    " event_id, user_id, enriched_time FROM events_first"
    " WHERE sign = -1 AND event_time >= {since:DateTime64(6)})"
)
CURRENT = f"sign = 1 AND NOT {REPLACED}"


def listing_filter(conditions: Sequence[str]) -> str:
    """PREWHERE and WHERE of a listing of events_first's rows as FINAL shows them, where
    every one of ``conditions`` holds; it reads newest first and stops at its limit.
    REPLACED is left to WHERE, after the read: in a lone WHERE, ClickHouse moved it to
    PREWHERE with the rest, where its lookup ran on every row of the window before the
    read stopped (the 30-day list over 10 M unmerged events: 148 ms against 100, chDB,
    same run)."""
    return f"PREWHERE {' AND '.join(['sign = 1', *conditions])} WHERE NOT {REPLACED}"


# The events since {since}, each once as FINAL shows it: the report's, the dashboard's.
EVENTS_SINCE = (
    f"(SELECT * FROM events_first WHERE event_time >= {{since:DateTime64(6)}} AND {CURRENT})"
)

ERASED = "user_id IN (SELECT user_id FROM erased_subjects)"


def latest_heartbeat(key: str, after: str = "") -> str:
    """Each producer stream's ``key`` (``spool_bytes``, ``events_dropped``...) as its
    latest heartbeat (highest seq) reports it, as ``value``; only heartbeats later than
    the SQL time ``after`` when given."""
    window = f" AND event_time > {after}" if after else ""
    return (
        f"(SELECT stream_id, argMax(heartbeat['{key}'], seq) AS value FROM audit_events"
        f" WHERE event_type = 'HEARTBEAT'{window} GROUP BY stream_id)"
    )


def _unless_chained(column: str, digest: str) -> str:
    """What erasure leaves in a personal column the hash chain covers through a keyed
    digest (schemas.integrity.DIGESTED): '' when the row holds the digest, else the
    value, which an event from an older producer chained in clear (docs/security.md)."""
    return f"if({digest} = '', {column}, '')"


# A personal column the hash chain covers through a keyed digest -> the column keeping
# the digest (schemas.integrity.DIGESTED: the field names are the column names).
DIGEST_COLUMNS: dict[str, str] = {path[-1]: digest for path, digest in DIGESTED.items()}

# Every personal value: erasure clears these (the one list; `mcp-audit erase`, the
# sink's insert for subjects already erased and verify's row check all read it). The
# hash chain covers none of them in clear but for rows from older producers, so the
# integrity check still passes after erasure.
PERSONAL_COLUMNS: dict[str, str] = {
    **{column: _unless_chained(column, digest) for column, digest in DIGEST_COLUMNS.items()},
    "ip": "''",
    "user_agent": "''",
    "client_name": "''",
    "agent_name": "''",
    "args": "''",
    "result": "''",
    "error_message": "''",
    "ai_reason": "''",
    "ai_user_intent": "''",
    "attributes": "map()",
    "lineage_sources": "[]",
    "lineage_destinations": "[]",
}
# What erasure clears in an alert (the detector's evidence attributes may quote values).
ALERT_PERSONAL_COLUMNS: dict[str, str] = {"attributes": "map()"}
# The dashboard's copy of each kept version (migration 170's events_first): no hash
# covers it, so erasure clears its one personal column whatever the chain holds.
FIRST_PERSONAL_COLUMNS: dict[str, str] = {"session_id": "''"}
# Every table holding personal values -> what erasure clears in it (`mcp-audit erase`).
ERASABLE: dict[str, dict[str, str]] = {
    "audit_events": PERSONAL_COLUMNS,
    "audit_alerts": ALERT_PERSONAL_COLUMNS,
    "events_first": FIRST_PERSONAL_COLUMNS,
}
HASH_COLUMNS = ("personal_hash", "content_hash")

# What the processors' final version of a folded alert changes (processors.alerts).
ALERT_VARYING = ("count", "window_end", "evidence_event_ids")
# What the processors' INCOMPLETE version of an attempt re-does (processors.enrich).
EVENT_VARYING = (
    "call_state", "attempt_event_id", "attempt_time", "risk_score", "risk_level",
    "risk_reasons", "anomalies", "processor_version",
)  # fmt: skip


def sql_string(text: str) -> str:
    """``text`` as a ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sha256_row_sql(expressions: list[str]) -> str:
    """SHA-256, hex, of values in ClickHouse's RowBinary: each value length-prefixed or
    fixed-size by its type, so no two different rows share an encoding (a separator-
    joined string would: 'a|b','c' and 'a','b|c'). LowCardinality and plain String
    encode alike, so the hash of an inserted value equals the hash of it stored."""
    return f"lower(hex(SHA256(formatRowNoNewline('RowBinary', {', '.join(expressions)}))))"


@dataclass(frozen=True)
class TableSpec:
    """Where one record type lands and how its Avro fields map to columns."""

    record: str
    table: str
    structure: tuple[tuple[str, str], ...]
    columns: tuple[tuple[str, str], ...]
    time_column: str
    personal: dict[str, str] | None = None
    # Where the sink inserts, when not the table itself (events: a Null table whose
    # views keep the first copy of each event, migration 120).
    insert_table: str | None = None
    # Columns outside content_hash besides the personal ones: enriched_time says when
    # a replay re-enriched, not what the enrichment said (the same copy stays a copy).
    outside_hash: tuple[str, ...] = ()
    # Row-hash formulas the table used before this one, by the ``hash_version`` a row
    # stored then reads (migration 150): a row is checked by the formula it was hashed
    # with. Empty: every row is hashed as this spec says (no version column).
    earlier_hashes: tuple[tuple[int, TableSpec], ...] = ()
    # What a legitimate later version of a row may change (an event's INCOMPLETE version
    # re-does the call state, risk and anomalies; a folded alert's final version raises
    # count, window_end and evidence); everything else a version keeps. Expressions over
    # the row that a later version keeps too (an alert that had evidence still has).
    varying: tuple[str, ...] = ()
    kept_too: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        return self.insert_table or self.table

    def personal_hash_sql(self) -> str:
        """``personal_hash`` of a row: its personal values, before any erasure."""
        return sha256_row_sql(list(self.personal or {}) or ["''"])

    def _hashed(self) -> list[str]:
        personal = self.personal or {}
        return [n for n, _ in self.columns if n not in personal and n not in self.outside_hash]

    def stable_columns(self) -> list[str]:
        """What every version of a row keeps: the hashed columns outside ``varying``,
        ``kept_too``, and ``personal_hash`` (a later version is made from the same input)."""
        kept = [n for n in self._hashed() if n not in self.varying]
        return [*kept, *self.kept_too, "personal_hash"]

    def stable_hash_sql(self) -> str:
        """SHA-256 of :meth:`stable_columns`."""
        return sha256_row_sql(self.stable_columns())

    def content_hash_sql(self, stable: str | None = None) -> str:
        """``content_hash`` of a row: 128 hex digits, the :meth:`stable_hash_sql` of the row,
        then a SHA-256 over it and the ``varying`` columns. So every column a reader relies
        on is covered (not the personal values, which it covers through ``personal_hash``;
        not ``legal_hold``, which holds change and :mod:`sinks.row_check` compares with the
        holds, nor those in outside_hash), and a sealed leaf's content_hash says what every
        later version must keep: :mod:`sinks.verify_sealed` compares the first halves.
        ``stable`` names a column already holding the stable half (the sink's INSERT
        computes it once: written twice, the expression was not shared, 8.9 against 7.1 s
        over 3 M rows in one chDB run on the loaded 2-core machine)."""
        stable = stable or self.stable_hash_sql()
        varying = [n for n in self._hashed() if n in self.varying]
        return f"concat({stable}, {sha256_row_sql([*varying, stable])})"

    def content_hash_sql_v1(self) -> str:
        """``content_hash`` of rows stored before stable halves (64 hex digits): every
        hashed column, then ``personal_hash``. Kept to check those rows."""
        return sha256_row_sql([*self._hashed(), "personal_hash"])

    def stored_content_hash_sql(self) -> str:
        """``content_hash`` of a stored row as it was computed: :meth:`content_hash_sql_v1`
        for a row stored before stable halves (64 hex digits), else :meth:`content_hash_sql`."""
        v1, v2 = self.content_hash_sql_v1(), self.content_hash_sql()
        return f"if(length(content_hash) = 64, {v1}, {v2})"

    def by_hash_version(self, part: Callable[[TableSpec], str]) -> str:
        """``part`` (a hash or cleared expression) of a row as its own hash version
        says: an earlier spec's for a row stored under it, this spec's otherwise."""
        if not self.earlier_hashes:
            return part(self)
        branches = "".join(f"hash_version = {v}, {part(s)}, " for v, s in self.earlier_hashes)
        return f"multiIf({branches}{part(self)})"

    def cleared_sql(self) -> str:
        """True when every personal value of a row is what erasure leaves."""
        return " AND ".join(f"{c} = {empty}" for c, empty in (self.personal or {}).items()) or "1"

    def erase_replace(self) -> str:
        """``REPLACE (...)`` clearing personal values of subjects already erased, or ''."""
        if not self.personal:
            return ""
        cleared = ", ".join(
            f"if({ERASED}, {empty}, {column}) AS {column}"
            for column, empty in self.personal.items()
        )
        return f" REPLACE ({cleared})"

    def structure_sql(self) -> str:
        return ", ".join(f"`{path}` {kind}" for path, kind in self.structure)

    def column_list(self) -> str:
        return ", ".join(name for name, _ in self.columns)

    def select_list(self) -> str:
        return ",\n    ".join(f"{expr} AS {name}" for name, expr in self.columns)


_S = "String"
_TS = "DateTime64(6, 'UTC')"

ALERT_STRUCTURE: tuple[tuple[str, str], ...] = (
    *((name, _S) for name in ("alert_id", "severity", "detector", "summary")),
    *((name, _S) for name in ("user_pseudonym", "server_id", "tool_name", "tenant_id")),
    ("alert_time", _TS),
    ("count", "Int32"),
    ("window_start", _TS),
    ("window_end", _TS),
    ("evidence_event_ids", "Array(String)"),
    ("attributes", "Map(String, String)"),
)


def alerts_spec(retention_days: int) -> TableSpec:
    """Alerts land in ``audit_alerts``, each kept ``retention_days`` (longer than events)."""
    columns = (
        ("alert_id", "toUUID(`alert_id`)"),
        ("alert_time", "`alert_time`"),
        ("severity", "`severity`"),
        ("detector", "`detector`"),
        ("summary", "`summary`"),
        ("user_id", "`user_pseudonym`"),
        ("server_id", "`server_id`"),
        ("tool_name", "`tool_name`"),
        ("tenant_id", "`tenant_id`"),
        ("count", "toUInt32(`count`)"),
        ("window_start", "`window_start`"),
        ("window_end", "`window_end`"),
        ("evidence_event_ids", "`evidence_event_ids`"),
        ("attributes", "`attributes`"),
        ("retention_days", f"toUInt16({int(retention_days)})"),
    )
    return TableSpec(
        "Alert", "audit_alerts", ALERT_STRUCTURE, columns, "alert_time", ALERT_PERSONAL_COLUMNS,
        varying=ALERT_VARYING, kept_too=("notEmpty(evidence_event_ids)",),
    )  # fmt: skip
