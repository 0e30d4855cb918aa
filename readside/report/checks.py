"""The checks a compliance report scores: only what the pipeline can measure.

Each check is a function of the store returning a :class:`Check`; frameworks
are sets of checks, and a framework's score is the share that pass. Nothing
here is asserted from configuration alone: every answer comes from stored rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client

from schemas.verify import ChainFinding
from sinks.enriched import ENRICHED
from sinks.tables import ERASED, latest_heartbeat

SecretScan = Callable[[str], int]


def _count(client: Client, sql: str) -> int:
    value = client.command(sql)
    return int(value) if isinstance(value, int | str) else 0


SCAN_LIMIT = 200_000
EXPIRY_SLACK_DAYS = 1  # TTL is applied by merges; allow them a day


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    passed: bool
    detail: str
    recommendation: str


def sequence_complete(findings: list[ChainFinding]) -> Check:
    missing = [f for f in findings if f.kind == "missing"]
    return Check(
        "sequence_complete", "Every call logged (no sequence gaps)", not missing,
        f"{len(missing)} sequence numbers missing" if missing else "no gaps in any stream",
        "Find why events went missing (producer spool dropped, sink dead letters) and restore "
        "them from producer spools or the dead-letter topic.",
    )  # fmt: skip


def chain_intact(findings: list[ChainFinding]) -> Check:
    broken = [f for f in findings if f.problem and f.kind != "missing"]
    kinds = sorted({f.kind for f in broken})
    return Check(
        "chain_intact", "Hash chains verify", not broken,
        f"{len(broken)} rows fail ({', '.join(kinds)})" if broken else "every chain verifies",
        "Treat altered or inserted rows as a security incident: run `mcp-audit verify`, "
        "preserve the store, and compare with the signed digests.",
    )  # fmt: skip


def retention_configured(client: Client) -> Check:
    rows = client.query(
        "SELECT classification, groupUniqArray(retention_days) FROM audit_events"
        " GROUP BY classification ORDER BY classification"
    ).result_rows
    bad = [c for c, periods in rows if not periods or min(periods) <= 0 or len(periods) > 1]
    summary = ", ".join(f"{c or 'unclassified'}: {sorted(p)} days" for c, p in rows)
    return Check(
        "retention_configured", "Retention configured per classification", not bad,
        summary or "no events stored yet",
        "Give every classification one retention period in the producers' policy file.",
    )  # fmt: skip


def retention_honoured(client: Client) -> Check:
    overdue = _count(
        client,
        "SELECT count() FROM audit_events WHERE NOT legal_hold AND event_time"
        f" + toIntervalDay(retention_days + {EXPIRY_SLACK_DAYS}) < now64(6)",
    )
    return Check(
        "retention_honoured", "Retention honoured (expired rows removed)", overdue == 0,
        f"{overdue} rows kept past their retention" if overdue else "no row outlives its period",
        "Check that TTL merges run (system.merges) or run OPTIMIZE TABLE audit_events FINAL.",
    )  # fmt: skip


def no_secrets_stored(client: Client, since: datetime, scan: SecretScan) -> Check:
    rows = client.query(
        "SELECT args, result, error_message FROM audit_events"
        " WHERE event_time >= {since:DateTime64(6)}"
        " AND (args != '' OR result != '' OR error_message != '')"
        f" ORDER BY event_time DESC LIMIT {SCAN_LIMIT}",
        parameters={"since": since},
    ).result_rows
    hits = sum(scan(value) for row in rows for value in row if value)
    return Check(
        "no_secrets_stored", "No unredacted secret in stored values", hits == 0,
        f"{hits} secrets found in {len(rows)} rows scanned" if hits
        else f"{len(rows)} rows with stored values scanned, none found",
        "Add the leaking pattern to MCP_AUDIT_PRODUCER_REDACT_PATTERNS or keep only argument "
        "keys for that tool's class, then erase the affected rows.",
    )  # fmt: skip


def erasure_complete(client: Client) -> Check:
    remaining = _count(
        client,
        f"SELECT count() FROM audit_events WHERE {ERASED}"
        f" AND NOT ({ENRICHED.cleared_sql()})",  # every personal column, from one list
    )
    subjects = _count(client, "SELECT uniqExact(user_id) FROM erased_subjects")
    return Check(
        "erasure_complete", "Erasure requests completed", remaining == 0,
        f"{subjects} subjects erased; {remaining} rows still hold their personal data",
        "Run `mcp-audit erase` again for the subjects listed and check for a legal hold.",
    )  # fmt: skip


def producers_lossless(client: Client) -> Check:
    dropped = _count(
        client,
        f"SELECT sum(value) FROM {latest_heartbeat('events_dropped')}",
    )
    return Check(
        "producers_lossless", "No events dropped by producers", dropped == 0,
        f"producers report {dropped} dropped events" if dropped else "no producer reports a drop",
        "Raise MCP_AUDIT_PRODUCER_SPOOL_MAX_BYTES and fix broker reachability for the "
        "producers that reported drops.",
    )  # fmt: skip


FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "GDPR": ("no_secrets_stored", "erasure_complete", "retention_configured", "retention_honoured"),
    "HIPAA": ("sequence_complete", "chain_intact", "retention_configured", "retention_honoured"),
    "PCI-DSS": (
        "sequence_complete", "chain_intact", "no_secrets_stored", "producers_lossless",
        "retention_configured",
    ),
    "SOC 2": ("sequence_complete", "chain_intact", "producers_lossless", "retention_honoured"),
}  # fmt: skip
NOT_MEASURED = ("Alerts acknowledged: mcp-audit has no acknowledgement workflow yet.",)


def scores(checks: dict[str, Check]) -> dict[str, int]:
    """Per framework, the percentage of its checks that pass."""
    return {
        name: round(100 * sum(checks[k].passed for k in keys) / len(keys))
        for name, keys in FRAMEWORKS.items()
    }
