"""An append-only Merkle tree as RFC 6962 (Certificate Transparency) defines it.

Leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``,
the root of ``n`` leaves splits at the largest power of two below ``n``
(RFC 6962 section 2.1). Inclusion proofs show that a leaf is in a tree of a given
size; consistency proofs that a smaller tree is a prefix of a larger one, so a
log that drops or rewrites an old leaf cannot produce them. The verifiers follow
RFC 9162 sections 2.1.3.2 and 2.1.4.2. Pure functions: no store, no I/O.

:class:`Frontier` keeps only the right edge of the tree (one hash per set bit of
its size), enough to append and to compute the root: the sealer keeps it apart
from the store, so a store rewritten afterwards cannot change the roots it signs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from schemas.errors import McpAuditError

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


class ProofError(McpAuditError):
    """A Merkle proof does not check out."""


def leaf_hash(leaf: bytes) -> bytes:
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class Frontier:
    """The right edge of a tree: perfect subtree roots, largest first."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ProofError("a frontier holds one hash per set bit of its size", size=size)
        self.size = size
        self._stack = list(hashes)

    @property
    def hashes(self) -> list[bytes]:
        return list(self._stack)

    def append(self, hashed_leaf: bytes) -> None:
        node, size = hashed_leaf, self.size
        while size & 1:  # each trailing one bit is a full subtree to merge with
            node = node_hash(self._stack.pop(), node)
            size >>= 1
        self._stack.append(node)
        self.size += 1

    def extend(self, hashed_leaves: Iterable[bytes]) -> None:
        for hashed in hashed_leaves:
            self.append(hashed)

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def root(hashed_leaves: Sequence[bytes]) -> bytes:
    """MTH of leaves given as their leaf hashes."""
    frontier = Frontier()
    frontier.extend(hashed_leaves)
    return frontier.root()


def _subtree_root(hashed: Sequence[bytes], lo: int, hi: int) -> bytes:
    frontier = Frontier()
    for index in range(lo, hi):
        frontier.append(hashed[index])
    return frontier.root()


def inclusion_proof(
    hashed_leaves: Sequence[bytes], index: int, size: int | None = None
) -> list[bytes]:
    """PATH(index, D[size]) of RFC 6962 section 2.1.1, nearest the leaf first."""
    size = len(hashed_leaves) if size is None else size
    if not 0 <= index < size <= len(hashed_leaves):
        raise ProofError("no such leaf in a tree of that size", index=index, size=size)
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            path.append(_subtree_root(hashed_leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(_subtree_root(hashed_leaves, lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_proof(hashed_leaves: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 6962 section 2.1.2."""
    if not 0 <= first <= second <= len(hashed_leaves):
        raise ProofError("sizes out of order or beyond the tree", first=first, second=second)
    if first in (0, second):
        return []
    path: list[bytes] = []
    lo, hi, m, complete = 0, second, first, True
    while True:
        if m == hi - lo:
            if not complete:
                path.append(_subtree_root(hashed_leaves, lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            path.append(_subtree_root(hashed_leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(_subtree_root(hashed_leaves, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    path.reverse()
    return path


def verify_inclusion(
    hashed_leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``proof`` puts the leaf at ``index`` under the root."""
    if not 0 <= index < size:
        raise ProofError("leaf index outside the tree", index=index, size=size)
    fn, sn, node = index, size - 1, hashed_leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("inclusion proof longer than the tree is deep", size=size)
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof shorter than the tree is deep", size=size)
    if node != expected_root:
        raise ProofError("inclusion proof does not lead to the root", index=index, size=size)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise :class:`ProofError` unless the tree of size ``first`` is a prefix of ``second``."""
    if not 0 <= first <= second:
        raise ProofError("a tree cannot shrink", first=first, second=second)
    if first == second or first == 0:
        if proof:
            raise ProofError("consistency proof must be empty here", first=first, second=second)
        if first and first_root != second_root:  # an empty tree is a prefix of any
            raise ProofError("two trees of one size with different roots", size=first)
        return
    if not proof:
        raise ProofError("empty consistency proof", first=first, second=second)
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long", first=first, second=second)
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise ProofError("trees are not consistent", first=first, second=second)
