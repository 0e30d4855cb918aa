"""``mcp-audit proxy -- <command> [args]``: audit any stdio MCP server, in any language."""

from __future__ import annotations

import argparse
import signal

from producers.integrations.proxy_stdio import run_proxy
from producers.runtime import configure, shutdown
from schemas.errors import ConfigError

NAME = "proxy"
HELP = "run an MCP server behind a transparent stdio proxy that audits every call"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--upstream",
        metavar="ORIGIN",
        help="streamable-HTTP mode: the remote server's origin, e.g. https://mcp.example.com",
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:8765", metavar="HOST:PORT", help="HTTP mode: listen here"
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST[:PORT|:*]",
        help="HTTP mode: also accept this Host (and its http/https Origin); a loopback"
        " listener accepts only loopback names unless told, another accepts any unless told",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help="HTTP mode: upstream connections at most (default 256; each open event stream"
        " holds one)",
    )
    parser.add_argument("server", nargs=argparse.REMAINDER, help="the server command, after --")


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    command = args.server[1:] if args.server[:1] == ["--"] else args.server
    if args.upstream:
        return _run_http(args)
    if not command:
        raise SystemExit("mcp-audit proxy: give the server command after --")
    # MCP clients close a stdio server's stdin, wait 2 s, then SIGTERM it: flush for
    # 1.5 s at most; what the broker has not taken by then is spooled, not lost.
    signal.signal(signal.SIGTERM, _terminated)
    # Unlike a library inside a server, the proxy refuses to start on a bad setting:
    # an operator who asked for auditing must not get an unaudited server by a typo.
    auditor = configure()
    try:
        return run_proxy(command, auditor)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish spooling before leaving
        shutdown(timeout_s=1.5)


def _run_http(args: argparse.Namespace) -> int:
    try:
        from producers.integrations.proxy_http import run_http_proxy  # aiohttp only for this mode
    except ModuleNotFoundError as exc:
        if exc.name != "aiohttp":
            raise
        raise ConfigError(
            "the HTTP proxy needs aiohttp", install="pip install 'mcp-audit[proxy-http]'"
        ) from exc

    host, _, port = args.listen.rpartition(":")
    limits = {"max_connections": args.max_connections} if args.max_connections else {}
    auditor = configure()
    try:
        run_http_proxy(
            args.upstream,
            auditor,
            host or "127.0.0.1",
            int(port),
            allowed_hosts=tuple(args.allowed_host),
            **limits,
        )
    finally:
        shutdown()
    return 0
