"""The ``mcp-audit`` command: one entry point for people, one module per subcommand.

Each module in :mod:`mcp_audit.commands` exposes ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; this module only wires them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from mcp_audit import __version__
from schemas.errors import McpAuditError

COMMAND_MODULES = (
    "up",
    "topics",
    "proxy",
    "processors",
    "sink",
    "siem",
    "query",
    "verify",
    "alerts",
    "report",
    "digest",
    "prove",
    "export",
    "erase",
    "retention",
    "hold",
    "token",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-audit",
        description="The audit trail for MCP servers.",
    )
    parser.add_argument("--version", action="version", version=f"mcp-audit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"mcp_audit.commands.{name}")
        sub = commands.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args))
    except McpAuditError as exc:
        print(f"mcp-audit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
