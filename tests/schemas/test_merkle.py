"""The Merkle tree against the RFC 6962 test vectors published with Certificate Transparency
(google/trillian merkle/log_verifier_test.go, transparency-dev/merkle testonly), and against
a straightforward recursive reading of RFC 6962 section 2.1 written here, independently of
the iterative code under test."""

from __future__ import annotations

import hashlib
import random

import pytest

from schemas.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

LEAF_HEX = (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)  # fmt: skip
LEAVES = [bytes.fromhex(h) for h in LEAF_HEX]
ROOTS = [  # MTH(D[1]) .. MTH(D[8])
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (index, size, path)
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [  # (first, second, path)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
HASHED = [leaf_hash(leaf) for leaf in LEAVES]


def _h(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# The reference: RFC 6962 section 2.1 read literally, recursive, on raw leaves.
def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if complete else [_mth(leaves)]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


def test_roots_match_the_published_vectors() -> None:
    assert (
        root([])
        == EMPTY_ROOT
        == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )
    assert [root(HASHED[:n]).hex() for n in range(1, 9)] == ROOTS


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(
    index: int, size: int, path: list[str]
) -> None:
    assert inclusion_proof(HASHED, index, size) == _h(path)
    verify_inclusion(HASHED[index], index, size, _h(path), bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(
    first: int, second: int, path: list[str]
) -> None:
    assert consistency_proof(HASHED, first, second) == _h(path)
    old, new = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    verify_consistency(first, second, old, new, _h(path))


def test_every_proof_up_to_40_leaves_agrees_with_the_reference() -> None:
    rng = random.Random(6962)
    leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(40)]
    hashed = [leaf_hash(leaf) for leaf in leaves]
    for size in range(1, 41):
        expected_root = _mth(leaves[:size])
        assert root(hashed[:size]) == expected_root
        for index in range(size):
            proof = inclusion_proof(hashed, index, size)
            assert proof == _path(index, leaves[:size])
            verify_inclusion(hashed[index], index, size, proof, expected_root)
        for first in range(1, size + 1):
            proof = consistency_proof(hashed, first, size)
            assert proof == _subproof(first, leaves[:size], True)
            verify_consistency(first, size, _mth(leaves[:first]), expected_root, proof)


def test_a_frontier_resumes_where_it_stopped() -> None:
    frontier = Frontier()
    frontier.extend(HASHED[:5])
    resumed = Frontier(frontier.size, frontier.hashes)
    resumed.extend(HASHED[5:])
    assert resumed.root().hex() == ROOTS[7]
    with pytest.raises(ProofError):
        Frontier(5, frontier.hashes[:1])


def _mutations(proof: list[bytes], root_hash: bytes) -> list[list[bytes]]:
    """Wrong proofs as trillian's verifier tests make them."""
    wrong = [[*proof, b""], [*proof, root_hash], [b"", *proof], [root_hash, *proof]]
    wrong += [[*proof[:i], EMPTY_ROOT, *proof[i + 1 :]] for i in range(len(proof))]
    if proof:
        wrong.append(proof[:-1])
    return wrong


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION[1:])
def test_wrong_inclusion_proofs_fail(index: int, size: int, path: list[str]) -> None:
    proof, root_hash = _h(path), bytes.fromhex(ROOTS[size - 1])
    for wrong_index, wrong_size in ((index - 1, size), (index + 1, size), (index ^ 2, size),
                                    (index, size * 2), (index, size // 2)):  # fmt: skip
        with pytest.raises(ProofError):
            verify_inclusion(HASHED[index], wrong_index, wrong_size, proof, root_hash)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b"WrongLeaf"), index, size, proof, root_hash)
    with pytest.raises(ProofError):
        verify_inclusion(HASHED[index], index, size, proof, EMPTY_ROOT)
    for wrong in _mutations(proof, root_hash):
        with pytest.raises(ProofError):
            verify_inclusion(HASHED[index], index, size, wrong, root_hash)


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY[1:])
def test_wrong_consistency_proofs_fail(first: int, second: int, path: list[str]) -> None:
    proof = _h(path)
    old, new = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    for m, n in ((first - 1, second), (first + 1, second), (first ^ 2, second),
                 (first, second * 2), (first, second // 2)):  # fmt: skip
        with pytest.raises(ProofError):
            verify_consistency(m, n, old, new, proof)
    for a, b in ((b"WrongRoot", new), (old, b"WrongRoot"), (new, old)):
        with pytest.raises(ProofError):
            verify_consistency(first, second, a, b, proof)
    for wrong in [*_mutations(proof, old), [], [proof[0], *proof]]:
        with pytest.raises(ProofError):
            verify_consistency(first, second, old, new, wrong)


def test_trivial_consistency_cases() -> None:
    verify_consistency(0, 0, b"x", b"y", [])
    verify_consistency(0, 5, b"x", b"y", [])
    verify_consistency(3, 3, b"r", b"r", [])
    for args in ((1, 0, b"x", b"y", []), (3, 3, b"r", b"s", []), (1, 2, b"x", b"y", []),
                 (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])):  # fmt: skip
        with pytest.raises(ProofError):
            verify_consistency(*args)
