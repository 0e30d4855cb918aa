#!/bin/bash
# Run once by the clickhouse-server image on a fresh data volume (docker-entrypoint-initdb.d).
# People read a ClickHouse server with users of the role mcp_audit_reader: SELECT on the
# audit database and nothing else (no table function sources, no writes, no DDL), under a
# settings profile the engine will not let them change (readonly = 1 locks every setting).
# The same limits as the embedded read side (readside/settings.py defaults).
set -euo pipefail
clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE SETTINGS PROFILE IF NOT EXISTS mcp_audit_readers SETTINGS
    readonly = 1,
    allow_ddl = 0,
    allow_introspection_functions = 0,
    max_execution_time = 30,
    max_result_rows = 1000000,
    max_result_bytes = 268435456,
    result_overflow_mode = 'throw',
    max_memory_usage = 4294967296,
    max_concurrent_queries_for_user = 4;
CREATE ROLE IF NOT EXISTS mcp_audit_reader;
GRANT SELECT ON ${CLICKHOUSE_DB}.* TO mcp_audit_reader;
ALTER USER grafana SETTINGS PROFILE 'mcp_audit_readers';
GRANT mcp_audit_reader TO grafana;
ALTER USER grafana DEFAULT ROLE mcp_audit_reader;
SQL
