"""Data for the sink benchmark: realistic enriched events, encoded once, and 10M rows made in SQL.

Encoding half a million events with fastavro would take longer than the
benchmark; instead a pool of varied events is encoded once and each copy gets
a fresh event_id written over the id's bytes (same length, so the Avro stays
valid). The 10M-row table for the query benchmark is generated inside
ClickHouse, which is far faster than going through Kafka.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.integrity import chain_hash
from schemas.wire import SingleObjectSerializer
from tests.schemas.factories import audit_event, enriched_event

_SERVERS = {
    "files": ["read_file", "write_file", "list_dir", "delete_file"],
    "github": ["search_issues", "create_pr", "get_file", "merge_pr"],
    "postgres": ["query", "list_tables", "describe"],
    "slack": ["post_message", "search", "list_channels"],
}
_ID_OFFSET = 11  # 2 magic + 8 fingerprint + 1 length byte (36 * 2 = 0x48)


def _pool_event(index: int, rng: random.Random, prev_hash: str) -> dict[str, Any]:
    server = rng.choice(list(_SERVERS))
    user = rng.randrange(500)
    failed = rng.random() < 0.05
    event = audit_event(
        seq=index + 1,
        prev_hash=prev_hash,
        event_time=datetime(2026, 11, 22, tzinfo=UTC) + timedelta(seconds=index * 3),
        call_id=str(uuid.uuid4()),
    )
    event["actor"].update(
        user_pseudonym=f"{user * 7919:064x}", session_id=f"s-{user}-{index // 50}",
        ip=f"10.0.{user // 250}.{user % 250}", tenant_id=["acme", "globex"][user % 2],
    )  # fmt: skip
    event["target"].update(server_id=server, tool_name=rng.choice(_SERVERS[server]))
    event["payload"]["args_digest"] = uuid.uuid4().hex * 2
    event["outcome"].update(
        status="ERROR" if failed else "SUCCESS", duration_us=int(rng.lognormvariate(8, 1.2)),
        error_type="TimeoutError" if failed else None,
    )  # fmt: skip
    event["integrity"]["hash"] = chain_hash(prev_hash, event)
    score = rng.randrange(100)
    level = ["LOW", "MEDIUM", "HIGH", "CRITICAL"][(score > 30) + (score > 70) + (score > 90)]
    return enriched_event(event=event, risk_score=score, risk_level=level)


def encoded_events(count: int, pool_size: int = 2000) -> list[bytes]:
    """``count`` enriched events as single-object messages, each with its own event_id."""
    rng = random.Random(7)
    encode = SingleObjectSerializer("EnrichedEvent")
    pool, prev = [], ""
    for index in range(pool_size):
        record = _pool_event(index, rng, prev)
        prev = record["event"]["integrity"]["hash"]
        data = encode(record)
        assert data[_ID_OFFSET - 1] == 72, "event_id is not where the patch expects it"
        pool.append(data)
    out = []
    for index in range(count):
        template = pool[index % pool_size]
        fresh = str(uuid.uuid4()).encode()
        out.append(template[:_ID_OFFSET] + fresh + template[_ID_OFFSET + 36 :])
    return out


def generate_rows_sql(
    rows: int, start: int = 0, count: int | None = None, into: str = "audit_events"
) -> str:
    """INSERT ... SELECT from numbers(): ``rows`` realistic events over the last 30 days.

    ``start`` and ``count`` make only that slice of them (in time order), so the
    table can be filled by several inserts, as a sink fills it. ``into``
    ``audit_events_incoming`` writes through the keep-first views, as the sink does.
    """
    return f"""
INSERT INTO {into} (event_id, event_time, event_type, phase, call_id, call_state,
    attempt_event_id, user_id, pseudonym_key_id, client_id, client_name, ip, session_id,
    auth_method, tenant_id, server_id, server_version, tool_name, method, arg_keys,
    classification, args_digest, status, duration_us, error_type, result_size, request_id,
    trace_id, protocol_version, transport, producer_host, producer_pid, producer_library_version,
    producer_integration, risk_score, risk_level, risk_reasons, compliance_tags, retention_days,
    enriched_time, processor_version, stream_id, seq, prev_hash, hash)
SELECT
    generateUUIDv7(n), ts, 'TOOL_CALL', 'RESULT', toString(generateUUIDv4(n)), 'COMPLETE',
    toString(generateUUIDv7(n + 1)), lower(hex(SHA256(concat('user-', toString(u))))), 'k1',
    ['claude-desktop', 'cursor', 'vscode'][1 + u % 3], 'Claude',
    IPv4NumToString(toUInt32(167772160 + u)),
    concat('s-', toString(u), '-', toString(intDiv(toUnixTimestamp(ts), 3600))),
    'oauth', ['acme', 'globex', 'initech'][1 + u % 3], server, '1.4.2',
    concat(server, '_', ['read', 'write', 'list', 'search', 'delete', 'query'][1 + t]),
    'tools/call', [['path'], ['path', 'content'], ['dir'], ['q'], ['path'], ['sql']][1 + t],
    ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][1 + c], lower(hex(SHA256(toString(n)))),
    multiIf(r < 0.94, 'SUCCESS', r < 0.98, 'ERROR', r < 0.99, 'DENIED', 'TIMEOUT'),
    toUInt64(exp(8 + randNormal(0, 1.2))), if(r < 0.94, '', 'ToolError'),
    toUInt64(rand(n) % 20000), toString(n % 1000),
    if(r2 < 0.3, lower(hex(generateUUIDv4(n + 2))), ''), '2025-11-25', 'stdio',
    concat('host-', toString(n % 40)), toUInt32(1000 + n % 40), '0.1.0', 'fastmcp',
    score, multiIf(score > 90, 'CRITICAL', score > 70, 'HIGH', score > 30, 'MEDIUM', 'LOW'),
    if(score > 70, ['classification:HIGH'], []), if(c >= 2, ['HIPAA'], []),
    [90, 365, 2190, 2555][1 + c], ts + toIntervalSecond(1), '0.1.0',
    concat('stream-', toString(n % 40)), intDiv(n, 40) + 1,
    lower(hex(SHA256(toString(n - 40)))), lower(hex(SHA256(toString(n))))
FROM (
    SELECT number AS n, cityHash64(n, 1) % 2000 AS u,
        ['files', 'github', 'postgres', 'slack', 'jira'][1 + cityHash64(n, 2) % 5] AS server,
        toUInt8(cityHash64(n, 3) % 6) AS t, toUInt8(cityHash64(n, 4) % 10 % 4) AS c,
        randCanonical() AS r, randCanonical() AS r2, toUInt8(cityHash64(n, 5) % 100) AS score,
        toDateTime64(now() - 30 * 86400 + intDiv(n * 30 * 86400, {rows}), 6, 'UTC') AS ts
    FROM numbers({start}, {rows - start if count is None else count})
)"""
