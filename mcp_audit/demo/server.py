"""An example FastMCP server with a tool of every classification, audited by the middleware.

Run: ``python -m mcp_audit.demo.server --port 8765``. It speaks streamable HTTP
and accepts the demo users' bearer tokens (a static verifier standing in for an
OAuth server), so the audit events carry real subjects, client ids and scopes.
The data is made up; nothing leaves the process except the audit events.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.auth.providers.jwt import StaticTokenVerifier
from mcp.types import ToolAnnotations

from producers.fastmcp_audit import AuditMiddleware

USERS = {
    "alice": ("claude-desktop", ["docs:read", "records:read"]),
    "bob": ("cursor", ["docs:read"]),
    "carol": ("billing-agent", ["docs:read", "payments:write"]),
    "mallory": ("unknown-agent", ["docs:read", "records:read", "records:admin"]),
}
POLICY = Path(__file__).with_name("policy.toml")


def token_of(user: str) -> str:
    return f"demo-token-{user}"


def verifier() -> StaticTokenVerifier:
    tokens = {
        token_of(user): {"sub": user, "client_id": client, "scopes": scopes}
        for user, (client, scopes) in USERS.items()
    }
    return StaticTokenVerifier(tokens)


def build() -> FastMCP:
    mcp = FastMCP("mcp-audit-demo", auth=verifier())
    read_only = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

    @mcp.tool(annotations=read_only)
    def get_time() -> str:
        """The server's current UTC time."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    @mcp.tool(annotations=read_only)
    def search_docs(query: str) -> list[str]:
        """Search the product documentation."""
        return [f"doc-{abs(hash(query)) % 100}: about {query}"]

    @mcp.tool(annotations=read_only)
    def read_patient_record(patient_id: str) -> dict[str, str]:
        """Read a patient's record (PHI)."""
        return {"patient_id": patient_id, "diagnosis": "J45.909", "email": "pat@example.org"}

    @mcp.tool(annotations=ToolAnnotations(destructiveHint=False, openWorldHint=True))
    def charge_card(card_number: str, amount_cents: int) -> str:
        """Charge a payment card."""
        return f"charged {amount_cents} to card ending {card_number[-4:]}"

    @mcp.tool(annotations=ToolAnnotations(destructiveHint=True, idempotentHint=False))
    def delete_records(table: str) -> str:
        """Delete every record of a table (admins only)."""
        raise ToolError(f"permission denied: deleting {table} needs records:admin approval")

    @mcp.resource("records://{record_id}")
    def record(record_id: str) -> str:
        """One stored record."""
        return f"record {record_id}"

    mcp.add_middleware(AuditMiddleware())
    return mcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    os.environ.setdefault("MCP_AUDIT_PRODUCER_POLICY_FILE", str(POLICY))
    os.environ.setdefault("MCP_AUDIT_PRODUCER_SERVER_ID", "demo-clinic")
    build().run(transport="http", host=args.host, port=args.port, show_banner=False)


if __name__ == "__main__":
    main()
