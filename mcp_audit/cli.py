"""The ``mcp-audit`` command: one entry point for people, one module per subcommand.

Each module in :mod:`mcp_audit.commands` exposes ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; this module only wires them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from mcp_audit import __version__
from schemas.errors import ConfigError, McpAuditError

# The project's own packages: a missing one of these is a defect, never a missing extra.
OWN_PACKAGES = frozenset({"schemas", "producers", "processors", "sinks", "readside", "mcp_audit"})

COMMAND_MODULES = (
    "up",
    "topics",
    "proxy",
    "processors",
    "sink",
    "siem",
    "query",
    "dashboard",
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
        module = _command(name)
        if module is None:
            # No option prefix: every argument, --help too, reaches the refusal.
            sub = commands.add_parser(
                name, help=f"(needs {PLATFORM_EXTRA})", add_help=False, prefix_chars="\0"
            )
            sub.add_argument("ignored", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            sub.set_defaults(run=_needs_platform(name))
            continue
        sub = commands.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


PLATFORM_EXTRA = "pip install 'mcp-audit[all]'"


def _command(name: str) -> ModuleType | None:
    """The command's module; None when it needs a dependency of the platform that this
    install lacks (the base install is the producer's: ``mcp-audit proxy`` only)."""
    try:
        return importlib.import_module(f"mcp_audit.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] in OWN_PACKAGES:
            raise
        logging.getLogger("mcp_audit").debug("%s: %s is not installed", name, exc.name)
        return None


def _needs_platform(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise ConfigError(
            "this command needs the platform, not only the producer", command=name,
            install=PLATFORM_EXTRA,
        )  # fmt: skip

    return run


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
