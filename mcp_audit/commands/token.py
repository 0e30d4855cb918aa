"""``mcp-audit token [--rotate] [--operator NAME]``: the read token and the dashboard link."""

from __future__ import annotations

import argparse

from mcp_audit.settings import PlatformSettings
from readside.settings import ReadSettings
from readside.tokens import Tokens

NAME = "token"
HELP = "print (or --rotate) an operator's read token and the dashboard link that carries it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rotate", action="store_true", help="replace the token (old one dies)")
    parser.add_argument("--operator", help="whose token (default: the user running this)")


def run(args: argparse.Namespace) -> int:
    read, platform = ReadSettings.load(), PlatformSettings.load()
    path = read.token_file
    if "token_file" not in read.model_fields_set:  # up keeps it in its data directory
        path = platform.data_dir / "read-tokens.json"
    tokens = Tokens(path)
    token = tokens.rotate(args.operator) if args.rotate else tokens.ensure(args.operator)
    host = platform.dashboard_host
    if host in ("0.0.0.0", "::"):  # a container's every interface: reached on its loopback port
        host = "127.0.0.1"
    print(f"dashboard: http://{host}:{platform.dashboard_port}/#token={token}")
    print(f"query endpoint password: {token}")
    return 0
