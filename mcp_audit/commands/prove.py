"""``mcp-audit prove``: an event's inclusion proof, and the check a third party runs.

``mcp-audit prove EVENT_ID > proof.json`` prints the proof (JSON) from the store;
``mcp-audit prove --check proof.json --public-key tree-head-key.pub`` checks one
with the public key alone, no store (:func:`schemas.digest.check_inclusion`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from readside.session import open_read_side
from schemas.digest import DigestError, InclusionProof, check_inclusion
from sinks.digests import prove
from sinks.settings import SinkSettings
from sinks.signing import PUBLIC_NAME, load_public_key

NAME = "prove"
HELP = "print an event's inclusion proof under the signed tree head, or --check one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event_id", nargs="?", help="the event to prove")
    parser.add_argument("--check", type=Path, metavar="FILE", help="check a proof file instead")
    parser.add_argument(
        "--public-key", type=Path, help=f"with --check: the auditor's copy of {PUBLIC_NAME}"
    )


def run(args: argparse.Namespace) -> int:
    if args.check is not None:
        if args.public_key is None:
            raise DigestError("--check needs --public-key: the proof is checked against it")
        proof = InclusionProof.from_json(args.check.read_text())
        try:
            check_inclusion(proof, load_public_key(args.public_key))
        except DigestError as exc:
            print(f"NOT PROVEN: {exc}")
            return 1
        head, leaf = proof.tree_head, proof.leaf
        print(
            f"proven: event {leaf.event_id} (stream {leaf.stream_id} seq {leaf.seq}) is leaf"
            f" {proof.leaf_index} of the {head.tree_size}-leaf tree signed by key {head.key_id}"
        )
        return 0
    if args.event_id is None:
        raise DigestError("name an event to prove, or --check a proof file")
    event_id = args.event_id
    with open_read_side(SinkSettings.load()) as session:
        proof = session.read("prove", lambda client: prove(client, event_id), lambda _: 1)
    print(proof.to_json())
    return 0
