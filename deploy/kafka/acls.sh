#!/bin/bash
# Run once by the compose stack's kafka-acls service, as the broker's super user (admin).
# The broker refuses every client that is not authenticated (SASL) and every operation
# no ACL below allows (allow.everyone.if.no.acl.found=false). Each part has its user:
#   producer    only writes the raw topic (the MCP servers: many hosts, least trusted)
#   processors  reads raw, writes enriched, alerts, dead letters and its own topics
#   sink        reads enriched and alerts, writes dead letters and its conflict alerts
#   sealer      writes the alert topic (each signed tree head, as a tree-head alert)
#   siem        reads alerts
#   registry    the schema registry's own topic and group
# So a stolen producer password can add raw events (which the processors still refuse
# without the origin key, docs/security.md "Origin") but cannot write what the sink
# stores, read the trail, or delete a topic.
set -euo pipefail

properties=$(mktemp)
trap 'rm -f "$properties"' EXIT
cat >"$properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${BROKER_ADMIN_PASSWORD}";
EOF

raw=${MCP_AUDIT_KAFKA_TOPIC_RAW:-mcp-audit.events.raw}
enriched=${MCP_AUDIT_KAFKA_TOPIC_ENRICHED:-mcp-audit.events.enriched}
alerts=${MCP_AUDIT_KAFKA_TOPIC_ALERTS:-mcp-audit.alerts}
dead=${MCP_AUDIT_KAFKA_TOPIC_DEAD_LETTER:-mcp-audit.dead-letter}
app=${MCP_AUDIT_PROCESSORS_APP_ID:-mcp-audit-processors}
sink_group=${MCP_AUDIT_SINK_CONSUMER_GROUP:-mcp-audit-sink}
siem_group=${MCP_AUDIT_SIEM_CONSUMER_GROUP:-mcp-audit-siem}

allow() { # principal, then kafka-acls arguments
    local principal=$1
    shift
    /opt/kafka/bin/kafka-acls.sh --bootstrap-server "${KAFKA_BOOTSTRAP:-kafka:9092}" \
        --command-config "$properties" --add --allow-principal "User:$principal" "$@"
}

allow producer --operation Write --operation Describe --topic "$raw"

allow processors --operation Read --operation Describe --topic "$raw"
allow processors --operation Write --operation Describe --topic "$enriched" --topic "$alerts" --topic "$dead"
allow processors --operation All --resource-pattern-type prefixed --topic "$app" --group "$app"
allow processors --operation Describe --topic "$enriched" --group "$sink_group"

allow sink --operation Read --operation Describe --topic "$enriched" --topic "$alerts"
allow sink --operation Write --operation Describe --topic "$dead" --topic "$alerts"
allow sink --operation Read --group "$sink_group"

allow sealer --operation Write --operation Describe --topic "$alerts"

allow siem --operation Read --operation Describe --topic "$alerts"
allow siem --operation Read --group "$siem_group"

allow registry --operation All --topic _schemas --group schema-registry
allow registry --operation Describe --operation DescribeConfigs --cluster
