"""``mcp-audit hold``: place, release and list legal holds (rows kept past their TTL)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from readside.holds import Hold, active, new_hold, place, release
from readside.render import render
from readside.session import open_read_side
from sinks.cluster import layout_for
from sinks.settings import SinkSettings

NAME = "hold"
HELP = "place, release or list legal holds on a subject, a server or a time range"


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("place", "release", "list"))
    parser.add_argument("hold_id", nargs="?", help="the hold to release")
    parser.add_argument("--pseudonym", help="hold every row of this user pseudonym")
    parser.add_argument("--server", help="hold every row of this MCP server")
    parser.add_argument("--from", dest="time_from", type=_when, help="hold rows from (ISO time)")
    parser.add_argument("--to", dest="time_to", type=_when, help="...up to (ISO time)")


def run(args: argparse.Namespace) -> int:
    settings = SinkSettings.load()
    layout = layout_for(settings)
    with open_read_side(settings) as session:
        operator = session.operator
        if args.action == "list":
            holds = session.read("hold-list", active)
            rows = [(h.hold_id, h.kind, h.value, h.time_from, h.time_to) for h in holds]
            sys.stdout.write(render(["hold_id", "kind", "value", "from", "to"], rows, "table"))
        elif args.action == "release":
            hold_id = str(args.hold_id)
            session.operate(
                "hold-release", lambda c: release(c, hold_id, operator, layout), hold_id=hold_id
            )
            print(f"released {args.hold_id}")
        else:
            hold = _hold_from(args)
            session.operate("hold-place", lambda c: place(c, hold, operator, layout),
                            hold_id=hold.hold_id, kind=hold.kind, value=hold.value)  # fmt: skip
            print(f"placed {hold.hold_id}")
    return 0


def _hold_from(args: argparse.Namespace) -> Hold:
    if args.pseudonym:
        return new_hold("subject", args.pseudonym)
    if args.server:
        return new_hold("server", args.server)
    return new_hold("time", time_from=args.time_from, time_to=args.time_to)
