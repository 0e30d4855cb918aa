#!/bin/bash
# Run once by the clickhouse-server image on a fresh data volume (docker-entrypoint-initdb.d).
# Grafana reads with a user of its own that can only SELECT from the audit database:
# a dashboard, or anyone holding Grafana's data-source password, cannot change the trail.
set -euo pipefail
clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '${GRAFANA_CLICKHOUSE_PASSWORD}';
GRANT SELECT ON ${CLICKHOUSE_DB}.* TO grafana;
SQL
