"""Gather a compliance report's facts from the store: totals, trends, issues and checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from readside.report import checks
from sinks.tables import CALL, EVENTS_SINCE, FAILURE, HIGH_RISK, LATEST_ALERTS, TOOL_CALL
from sinks.verify_store import verify_store


@dataclass
class Report:
    since: datetime
    generated: datetime
    totals: dict[str, int]
    daily: list[tuple[str, int, int]]
    top_detectors: list[tuple[str, int]]
    top_reasons: list[tuple[str, int]]
    checks: dict[str, checks.Check]
    scores: dict[str, int] = field(default_factory=dict)


def _one(client: Client, sql: str, since: datetime) -> Any:
    return client.query(sql, parameters={"since": since}).result_rows


def build(client: Client, since: datetime, scan: checks.SecretScan) -> Report:
    [totals] = _one(
        client,
        f"SELECT count(), countIf({TOOL_CALL}),"
        f" countIf({CALL} AND {FAILURE}),"
        f" countIf({HIGH_RISK}), uniqExact(user_id), uniqExact(server_id)"
        f" FROM {EVENTS_SINCE}",
        since,
    )
    daily = _one(
        client,
        f"SELECT toString(toDate(event_time)) AS day, countIf({CALL}),"
        f" countIf({HIGH_RISK}) FROM {EVENTS_SINCE} GROUP BY day ORDER BY day",
        since,
    )
    detectors = _one(
        client,
        f"SELECT detector, sum(count) AS n FROM {LATEST_ALERTS}"
        " WHERE alert_time >= {since:DateTime64(6)} GROUP BY detector ORDER BY n DESC LIMIT 8",
        since,
    )
    reasons = _one(
        client,
        f"SELECT reason, count() AS n FROM {EVENTS_SINCE} ARRAY JOIN risk_reasons AS reason"
        f" WHERE {HIGH_RISK} GROUP BY reason ORDER BY n DESC LIMIT 8",
        since,
    )
    findings = [f for _, _, found in verify_store(client) for f in found]
    measured = [
        checks.sequence_complete(findings),
        checks.chain_intact(findings),
        checks.retention_configured(client),
        checks.retention_honoured(client),
        checks.no_secrets_stored(client, since, scan),
        checks.erasure_complete(client),
        checks.producers_lossless(client),
    ]
    by_key = {c.key: c for c in measured}
    names = ("events", "calls", "failures", "high_risk", "users", "servers")
    return Report(
        since=since,
        generated=datetime.now(UTC),
        totals=dict(zip(names, map(int, totals), strict=True)),
        daily=[(d, int(c), int(h)) for d, c, h in daily],
        top_detectors=[(d, int(n)) for d, n in detectors],
        top_reasons=[(r, int(n)) for r, n in reasons],
        checks=by_key,
        scores=checks.scores(by_key),
    )
