#!/bin/bash
# Run once by the clickhouse-server image on a fresh data volume (docker-entrypoint-initdb.d).
# The built-in dashboard (compose's `dashboard`, `mcp-audit dashboard`) signs in as a user of
# its own: it reads the audit database and appends its AUDIT_ACCESS records (every page load
# is recorded before it is shown), and can do nothing else: no other INSERT, no ALTER, DELETE,
# DDL or table function sources. Its people's reads run on connections it locks with
# readonly = 1 itself (readside/guard.py); the limits below cap what it may set there.
set -euo pipefail
clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE SETTINGS PROFILE IF NOT EXISTS mcp_audit_dashboard SETTINGS
    allow_ddl = 0 CONST,
    allow_introspection_functions = 0 CONST,
    max_execution_time = 30 MAX 30,
    max_result_rows = 1000000 MAX 1000000,
    max_result_bytes = 268435456 MAX 268435456,
    max_memory_usage = 4294967296 MAX 4294967296,
    max_concurrent_queries_for_user = 8;
CREATE USER IF NOT EXISTS dashboard IDENTIFIED WITH sha256_password BY '${DASHBOARD_CLICKHOUSE_PASSWORD}'
    SETTINGS PROFILE 'mcp_audit_dashboard';
GRANT SELECT ON ${CLICKHOUSE_DB}.* TO dashboard;
GRANT INSERT ON ${CLICKHOUSE_DB}.audit_events TO dashboard;
-- Cluster mode (sinks/cluster.py): audit_events is the Distributed table, and its insert
-- runs on each shard's audit_events_local as this user (the cluster's secret carries it).
GRANT INSERT ON ${CLICKHOUSE_DB}.audit_events_local TO dashboard;
SQL
