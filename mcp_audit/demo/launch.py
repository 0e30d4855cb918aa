"""The children ``mcp-audit up --demo`` starts: the demo server and a one-shot traffic run."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from mcp_audit.embedded.broker import free_port
from mcp_audit.private_files import ensure_hex_key
from mcp_audit.supervisor import Child
from schemas.kafka import KafkaSettings

ORIGIN_KEY_ID = "demo"


def origin_keys_dir(data_dir: Path) -> Path:
    """The demo's origin keys (one, ``demo.key``, made once per data directory): the
    demo producers sign with it and the processors refuse what it does not vouch for."""
    return ensure_hex_key(data_dir / "origin-keys" / f"{ORIGIN_KEY_ID}.key").parent


def demo_children(kafka: KafkaSettings, data_dir: Path) -> list[Child]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    env = {
        "MCP_AUDIT_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MCP_AUDIT_KAFKA_TOPIC_RAW": kafka.topic_raw,
        "MCP_AUDIT_PRODUCER_HMAC_KEY_ENV": "MCP_AUDIT_DEMO_HMAC_KEY",
        "MCP_AUDIT_DEMO_HMAC_KEY": secrets.token_hex(32),  # pseudonyms link within this run
        "MCP_AUDIT_PRODUCER_VALUE_DIGEST_KEY_ENV": "MCP_AUDIT_DEMO_VALUE_DIGEST_KEY",
        "MCP_AUDIT_DEMO_VALUE_DIGEST_KEY": secrets.token_hex(32),  # both producers, one key
        "MCP_AUDIT_PRODUCER_ORIGIN_KEY_FILE": str(
            origin_keys_dir(data_dir) / f"{ORIGIN_KEY_ID}.key"
        ),
        "MCP_AUDIT_PRODUCER_ORIGIN_KEY_ID": ORIGIN_KEY_ID,
        "MCP_AUDIT_PRODUCER_HEARTBEAT_INTERVAL_S": "10",
    }
    server = Child(
        "demo-server",
        [sys.executable, "-m", "mcp_audit.demo.server", "--port", str(port)],
        {**env, "MCP_AUDIT_PRODUCER_SPOOL_DIR": str(data_dir / "spool" / "demo-server")},
    )
    traffic_argv = [
        sys.executable, "-m", "mcp_audit.demo.traffic", "--url", url,
        "--proxy-time", "--proxy-git", str(data_dir / "demo-repo"),
    ]  # fmt: skip
    traffic = Child(
        "demo-traffic",
        traffic_argv,
        {
            **env,
            "MCP_AUDIT_PRODUCER_SPOOL_DIR": str(data_dir / "spool" / "demo-proxy"),
            "MCP_AUDIT_PRODUCER_SERVER_ID": "demo-proxied",
        },
        restart=False,
    )
    return [server, traffic]
