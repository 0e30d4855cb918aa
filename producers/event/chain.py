"""One producer stream: event ids, times, sequence numbers and the hash chain.

:meth:`Stream.seal` is where events get their ``seq`` and hashes in Python; it
holds a lock only while it computes (no I/O), so numbering follows the order
events were sealed. The material hashed is exactly what
:func:`schemas.integrity.chain_hash` hashes for the event's Avro dict (a test
recomputes it), built from cached per-actor and per-target pieces. The compiled
sealer (:mod:`producers.event.sealer`) does the same work in C and must agree: this is
its reference and its fallback. With an origin key, each event also gets the
key's id and the MAC of its hash (see :mod:`schemas.integrity`, "Origin").
"""

from __future__ import annotations

import hashlib
import threading
import time

from producers.event.model import Actor, CallEvent, Target
from schemas.caches import remember
from schemas.ids import uuid7
from schemas.integrity import OriginKey
from schemas.keyed import PaddedHmac

_SEP = "\x1f"


def _actor_part(actor: Actor) -> str:
    # A personal identifier is chained as its keyed digest when it has one (DIGESTED).
    fields = (actor.user_pseudonym, actor.pseudonym_key_id, actor.client_id,
              actor.session_digest or actor.session_id, actor.tenant_id)  # fmt: skip
    return _SEP.join("" if v is None else v for v in fields)


def _target_part(target: Target) -> str:
    fields = (target.server_id, target.tool_name,
              target.resource_uri_digest or target.resource_uri,
              target.prompt_name_digest or target.prompt_name,
              target.method, target.tool_fingerprint, target.classification)  # fmt: skip
    return _SEP.join("" if v is None else v for v in fields)


class Stream:
    """A producer instance's numbered, chained sequence of events. Thread-safe."""

    def __init__(self, stream_id: str | None = None, origin: OriginKey | None = None) -> None:
        self.stream_id = stream_id or uuid7()
        self._origin = None if origin is None else (origin.key_id, PaddedHmac(origin.key))
        self.seq = 0
        self.last_hash = ""
        self._lock = threading.Lock()
        self._parts: dict[tuple[int, int], tuple[Actor, Target, str]] = {}

    def part(self, actor: Actor, target: Target) -> str:
        """Chained text of an actor and a target, cached by identity (no dataclass hashing)."""
        hit = self._parts.get((id(actor), id(target)))
        if hit is not None and hit[0] is actor and hit[1] is target:
            return hit[2]
        part = f"{_actor_part(actor)}{_SEP}{_target_part(target)}"
        remember(self._parts, (id(actor), id(target)), (actor, target, part), 4096)
        return part

    def seal(self, e: CallEvent) -> None:
        """Give ``e`` its id, time, stream position, hash and (keyed) origin MAC."""
        now_ns = time.time_ns()
        e.event_id = uuid7(now_ns)
        if not e.call_id and e.phase == "ATTEMPT":
            e.call_id = e.event_id  # the RESULT copies it from here
        e.event_time_us = now_ns // 1000
        e.stream_id = self.stream_id
        outcome = e.outcome
        status, duration, error_type = ("", "", "") if outcome is None else (
            outcome.status, str(outcome.duration_us), outcome.error_type or "")  # fmt: skip
        body = _SEP.join((
            e.event_id, str(e.event_time_us), e.event_type, e.phase, e.call_id,
            self.part(e.actor, e.target), e.args_digest or "",
            e.result_digest or "", status, duration, error_type, self.stream_id,
        ))  # fmt: skip
        with self._lock:
            self.seq += 1
            e.seq, e.prev_hash = self.seq, self.last_hash
            material = f"{e.prev_hash}{_SEP}{body}{_SEP}{e.seq}"
            digest = hashlib.sha256(material.encode("utf-8", "surrogatepass"))
            self.last_hash = e.hash = digest.hexdigest()
        if self._origin is not None:
            key_id, mac = self._origin
            e.origin_key_id, e.origin_mac = key_id, mac(digest.digest())
