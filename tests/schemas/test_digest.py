"""Signed tree heads and inclusion proofs, checked with the public key alone."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.digest import (
    DigestError,
    InclusionProof,
    Leaf,
    TreeHead,
    check_head,
    check_inclusion,
    key_id_of,
    sign_head,
)
from schemas.merkle import Frontier, inclusion_proof

HOUR_US = 3_600_000_000


class KeySigner:
    """A Signer over an in-memory key, as a KMS client would be one."""

    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()

    @property
    def key_id(self) -> str:
        return key_id_of(self._key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()


def _leaves(count: int) -> list[Leaf]:
    return [Leaf(f"e-{i}", "s1", i + 1, f"{i:064x}", i * 1000, 365) for i in range(count)]


def _head(signer: KeySigner, leaves: list[Leaf]) -> TreeHead:
    frontier = Frontier()
    frontier.extend(leaf.leaf_hash() for leaf in leaves)
    return sign_head(signer, 0, 3600, frontier.size, frontier.root(), "", HOUR_US)


def test_a_head_checks_and_any_change_or_other_key_fails() -> None:
    signer = KeySigner()
    head = _head(signer, _leaves(10))
    check_head(head, signer.public_key())
    for change in ({"tree_size": 9}, {"root_hash": "00" * 32}, {"period_start_us": HOUR_US}):
        altered = dataclasses.replace(head, **change)
        with pytest.raises(DigestError, match="altered"):
            check_head(altered, signer.public_key())
    with pytest.raises(DigestError, match="signature"):
        check_head(head, KeySigner().public_key())
    assert TreeHead.from_dict(head.as_dict()) == head


def test_an_inclusion_proof_round_trips_and_checks() -> None:
    signer = KeySigner()
    leaves = _leaves(13)
    head = _head(signer, leaves)
    hashes = [leaf.leaf_hash() for leaf in leaves]
    path = [h.hex() for h in inclusion_proof(hashes, 6)]
    proof = InclusionProof.from_json(InclusionProof(leaves[6], 6, head, path).to_json())
    check_inclusion(proof, signer.public_key())
    for wrong in (
        dataclasses.replace(proof, leaf_index=7),
        dataclasses.replace(proof, leaf=dataclasses.replace(leaves[6], retention_days=0)),
        dataclasses.replace(proof, path=path[:-1]),
    ):
        with pytest.raises(DigestError):
            check_inclusion(wrong, signer.public_key())
    with pytest.raises(DigestError, match="malformed"):
        InclusionProof.from_json('{"format": "mcp-audit/inclusion-proof/v1"}')


def test_a_version_1_leaf_keeps_its_encoding_and_old_proofs_still_load() -> None:
    # Leaves sealed before content hashes: the bytes every existing head was signed over.
    leaf = Leaf("e-1", "s1", 3, "ab", 1000, 365)
    assert leaf.encode() == b"leaf/v1\ne-1\n2:s1\n3\n2:ab\n1000\n365"
    signer = KeySigner()
    head = _head(signer, [leaf])
    proof = InclusionProof(leaf, 0, head, [])
    body = json.loads(proof.to_json())
    for name in ("version", "kind", "content_hash"):  # a proof file written before
        del body["leaf"][name]
    check_inclusion(InclusionProof.from_json(json.dumps(body)), signer.public_key())


def test_a_version_2_leaf_seals_content_and_says_whose() -> None:
    event = Leaf("e-1", "s1", 3, "ab", 1000, 365, 2, "event", "cd")
    assert event.encode() == b"leaf/v2\nevent\ne-1\n2:s1\n3\n2:ab\n1000\n365\n2:cd"
    others = [
        dataclasses.replace(event, content_hash="ce"),
        dataclasses.replace(event, kind="alert"),
        dataclasses.replace(event, version=1, content_hash=""),
    ]
    assert len({event.leaf_hash(), *(o.leaf_hash() for o in others)}) == 4
    signer = KeySigner()
    proof = InclusionProof(event, 0, _head(signer, [event]), [])
    check_inclusion(InclusionProof.from_json(proof.to_json()), signer.public_key())
    forged = json.loads(proof.to_json())
    forged["leaf"]["content_hash"] = "ce"  # the row's content as rewritten
    with pytest.raises(DigestError, match="not in the signed tree"):
        check_inclusion(InclusionProof.from_json(json.dumps(forged)), signer.public_key())
    for bad in ({"kind": "note"}, {"version": 3}, {"version": 1}):
        with pytest.raises(DigestError, match="leaf"):
            dataclasses.replace(event, **bad)
