"""``mcp-audit digest``: seal every closed period of every stream with a signed digest now."""

from __future__ import annotations

import argparse

from readside.session import open_read_side
from sinks.digests import key_id, load_or_create_key, seal_closed_periods
from sinks.settings import SinkSettings

NAME = "digest"
HELP = "seal closed periods with Ed25519-signed digests (mcp-audit up does this hourly)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: the key and period come from MCP_AUDIT_SINK_* settings


def run(args: argparse.Namespace) -> int:
    settings = SinkSettings.load()
    key = load_or_create_key(settings.digest_key_file)
    with open_read_side(settings) as session:
        sealed = session.operate(
            "digest", lambda c: seal_closed_periods(c, key, settings.digest_period_s)
        )
    public = settings.digest_key_file.with_suffix(".pub")
    print(f"sealed {sealed} periods with key {key_id(key)} (public key: {public})")
    return 0
