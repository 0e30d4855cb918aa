"""Check one producer stream's sequence numbers and hash chain, and name every break.

Given the stored events of a stream (any order, possibly with duplicate
deliveries), :func:`verify_stream` recomputes each hash and walks the chain by
sequence number. What it can tell:

* ``altered``: a row's content no longer matches its own hash;
* ``missing``: sequence numbers absent between the first and last stored row
  (or before the first, counting from ``first_seq``);
* ``inserted``: a row claiming a sequence number that another row holds,
  which the chain does not link;
* ``reordered``: a row that links to a row other than its predecessor, or
  whose time is earlier than its predecessor's (producers stamp time and
  sequence together, so time never runs backwards within a stream);
* ``broken-link``: a row whose ``prev_hash`` matches no stored row's hash
  (its predecessor was altered and re-hashed, or its own link was edited).

Retention deletes rows, and a stream mixes classifications with different
periods. A sequence number in ``expired_seqs`` is ``expired``: the sealed log
(:mod:`schemas.digest`) recorded that event with a retention that has passed.
For events from before sealing began there is no such record, so given
``expired_before_us`` a gap whose next stored row is older than that is
``expired`` too. ``expired`` is not a problem (:attr:`ChainFinding.problem`);
every other gap is ``missing``.

An attacker who rewrites every hash after the point of change, or cuts rows
from the end, is caught only by the signed tree heads, not by the chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.integrity import chain_hash, to_micros


@dataclass(frozen=True)
class ChainFinding:
    kind: str
    stream_id: str
    seq: int
    event_id: str | None
    detail: str

    @property
    def problem(self) -> bool:
        """False only for rows retention may have deleted."""
        return self.kind != "expired"


def _integrity(event: Mapping[str, Any]) -> Mapping[str, Any]:
    integrity: Mapping[str, Any] = event["integrity"]
    return integrity


def verify_stream(
    events: Iterable[Mapping[str, Any]],
    first_seq: int = 1,
    expired_before_us: int | None = None,
    expired_seqs: Container[int] = frozenset(),
) -> list[ChainFinding]:
    """Every break in one stream's chain; no :attr:`ChainFinding.problem` means it verifies."""
    by_seq: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    seen_ids: set[tuple[str, str]] = set()
    for event in events:
        key = (str(event["event_id"]), _integrity(event)["hash"])
        if key not in seen_ids:  # the same event delivered twice is not tampering
            seen_ids.add(key)
            by_seq[int(_integrity(event)["seq"])].append(event)
    if not by_seq:
        return []
    stream_id = str(_integrity(next(iter(by_seq.values()))[0])["stream_id"])
    findings: list[ChainFinding] = []
    seq_of_hash = {_integrity(e)["hash"]: s for s, rows in by_seq.items() for e in rows}
    linked_to = {_integrity(e)["prev_hash"] for rows in by_seq.values() for e in rows}
    previous_hash = ""
    previous_time = -1
    expected = first_seq
    for seq in sorted(by_seq):
        if seq > expected:
            after = to_micros(by_seq[seq][0]["event_time"])
            findings += _gap(stream_id, expected, seq, after, expired_before_us, expired_seqs)
        picked = _pick_linked(by_seq[seq], previous_hash, linked_to)
        chosen = picked or by_seq[seq][0]
        # After a gap the predecessor is unknown: "missing" already says so.
        linked = seq == 1 or (seq == expected and seq != first_seq)
        findings += _judge(picked, by_seq[seq], previous_hash, seq_of_hash, stream_id, seq, linked)
        previous_hash = _integrity(chosen)["hash"]
        time = to_micros(chosen["event_time"])
        if time < previous_time:
            detail = "its time is earlier than the previous event's"
            findings.append(
                ChainFinding("reordered", stream_id, seq, str(chosen["event_id"]), detail)
            )
        previous_time = time
        expected = seq + 1
    return findings


def _gap(
    stream_id: str,
    first: int,
    after: int,
    after_us: int,
    expired_before_us: int | None,
    expired_seqs: Container[int],
) -> list[ChainFinding]:
    """Findings for sequence numbers ``first`` up to ``after`` (excluded) absent from the store;
    the row at ``after``, stamped ``after_us``, is newer than all of them."""
    old = expired_before_us is not None and after_us < expired_before_us
    findings = []
    for seq in range(first, after):
        if seq in expired_seqs:
            detail = "absent; the sealed log says its retention has passed"
            findings.append(ChainFinding("expired", stream_id, seq, None, detail))
        elif old:
            detail = "absent, from before sealing began, and old enough for retention"
            findings.append(ChainFinding("expired", stream_id, seq, None, detail))
        else:
            detail = "no stored event has this sequence number"
            findings.append(ChainFinding("missing", stream_id, seq, None, detail))
    return findings


def _pick_linked(
    rows: list[Mapping[str, Any]], previous_hash: str, linked_to: set[str]
) -> Mapping[str, Any] | None:
    """Among rows claiming one sequence number, the one the chain runs through.

    Best is a row linked from both sides; then one linked from its predecessor.
    """

    def score(row: Mapping[str, Any]) -> int:
        integrity = _integrity(row)
        return int(integrity["prev_hash"] == previous_hash) + 2 * (integrity["hash"] in linked_to)

    best = max(score(row) for row in rows)
    tied = [row for row in rows if score(row) == best]
    # Two rows that link alike (say, at the newest position) cannot be told apart
    # by the chain: return None so both are named.
    return tied[0] if len(tied) == 1 else None


def _judge(
    picked: Mapping[str, Any] | None,
    rows: list[Mapping[str, Any]],
    previous_hash: str,
    seq_of_hash: dict[str, int],
    stream_id: str,
    seq: int,
    linked: bool,
) -> list[ChainFinding]:
    findings = []
    for row in rows:
        integrity = _integrity(row)
        event_id = str(row["event_id"])
        if chain_hash(integrity["prev_hash"], row) != integrity["hash"]:
            findings.append(ChainFinding("altered", stream_id, seq, event_id, "content ≠ its hash"))
        if picked is None:
            detail = f"{len(rows)} events claim this sequence number and link alike"
            findings.append(ChainFinding("inserted", stream_id, seq, event_id, detail))
        elif row is not picked:
            findings.append(
                ChainFinding("inserted", stream_id, seq, event_id, "duplicate sequence")
            )
    if picked is None or not linked:
        return findings
    link = _integrity(picked)["prev_hash"]
    if link != previous_hash:
        event_id = str(picked["event_id"])
        if link in seq_of_hash:
            detail = f"links to sequence {seq_of_hash[link]}, not to its predecessor"
            findings.append(ChainFinding("reordered", stream_id, seq, event_id, detail))
        else:
            detail = "prev_hash matches no stored event"
            findings.append(ChainFinding("broken-link", stream_id, seq, event_id, detail))
    return findings
