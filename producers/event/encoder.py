"""Encode audit events to Avro single-object bytes fast, without fastavro per event.

fastavro needs about 10 µs for an AuditEvent; an audited call (two events)
has 15 µs in all. Avro binary of a record is the concatenation of its fields'
encodings, so the parts that rarely change (actor, target, producer context,
compliance) are encoded once and cached by value, and only the varying fields
are encoded per event. The output is byte-for-byte what
``schemas.wire.SingleObjectSerializer`` writes for :func:`producers.event.model.to_avro`
of the same event (property-tested).
An :class:`EventEncoder` is safe to share between threads: caches are plain
dicts filled idempotently. The compiled sealer takes the cached parts from
:meth:`EventEncoder.around_args` and writes the per-event fields itself.
"""

from __future__ import annotations

from typing import Any

from producers.event import avro_bytes as av
from producers.event.model import CallEvent
from producers.event.segments import (
    KIND_PHASE,
    encode_actor,
    encode_ai,
    encode_compliance,
    encode_heartbeat,
    encode_lineage,
    encode_outcome,
    encode_producer,
    encode_target,
)
from schemas import registry
from schemas.caches import remember
from schemas.wire import SINGLE_OBJECT_MAGIC

_CACHE_LIMIT = 4096


class EventEncoder:
    """Turns a :class:`CallEvent` with integrity assigned into single-object bytes."""

    def __init__(self) -> None:
        self.header = SINGLE_OBJECT_MAGIC + registry.current("AuditEvent").fingerprint
        self._by_id: dict[int, tuple[Any, Any]] = {}
        self._by_value: dict[Any, Any] = {}
        self._templates: dict[tuple[int, ...], tuple[Any, ...]] = {}
        self._stream_id = ""
        self._keys: dict[int, tuple[tuple[str, ...], bytes]] = {}
        self._stream_bytes = av.string("")

    def _cached(self, obj: Any, build: Any) -> Any:
        """Bytes for ``obj``: by identity first (no hashing), then by value.

        The identity cache holds a reference to ``obj``, so its id cannot be reused
        by another object while the entry exists.
        """
        hit = self._by_id.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        found = self._by_value.get(obj)
        if found is None:
            # a bound, not an LRU: rebuilding costs microseconds
            found = remember(self._by_value, obj, build(obj), _CACHE_LIMIT)
        remember(self._by_id, id(obj), (obj, found), _CACHE_LIMIT)
        return found

    def _template(self, e: CallEvent) -> tuple[bytes, bytes, bytes, bytes]:
        """The constant segments for this (actor, target, producer, compliance), by identity."""
        key = (id(e.actor), id(e.target), id(e.producer), id(e.compliance))
        hit = self._templates.get(key)
        if hit is not None and hit[0] is e.actor and hit[1] is e.target and hit[2] is e.producer:
            return hit[4]  # type: ignore[no-any-return]
        head, tail = self._cached(e.target, encode_target)
        actor = self._cached(e.actor, encode_actor)
        producer = self._cached(e.producer, encode_producer)
        segments = (actor + head, tail, producer, self._cached(e.compliance, encode_compliance))
        entry = (e.actor, e.target, e.producer, e.compliance, segments)
        remember(self._templates, key, entry, _CACHE_LIMIT)
        return segments

    def _shared(self, e: CallEvent) -> tuple[Any, ...]:
        """``e.shared``, made anew unless it still matches the event (see CallEvent.shared).

        Items 4 and 5 are the bytes from the actor to the argument digest and from the
        request id to the stream id; a RESULT repeats them from its ATTEMPT.
        """
        shared = e.shared
        if (
            shared is None or shared[0] is not e.args_json or shared[1] is not e.actor
            or shared[2] is not e.target or shared[3] != e.stream_id
        ):  # fmt: skip
            template = self._template(e)
            shared = e.shared = (
                e.args_json, e.actor, e.target, e.stream_id, self._args(e, template),
                self._context(e, template),
            )  # fmt: skip
        return shared

    def __call__(self, e: CallEvent) -> bytes:
        """The bytes of an event its stream has sealed."""
        return self.sealed(e, self.unsealed(e))

    def unsealed(self, e: CallEvent) -> tuple[bytes, bytes, bytes, bytes]:
        """The segments that do not depend on the seal: kind and phase, actor to argument
        digest, the result, request context to stream id. Raises for a value the schema
        cannot hold (the call id too, written only once sealed), so a caller can repair or
        refuse an event before its stream advances."""
        if not e.call_id.isascii():
            e.call_id.encode()
        shared = self._shared(e)
        return KIND_PHASE[e.event_type, e.phase], shared[4], self._result(e), shared[5]

    def sealed(self, e: CallEvent, unsealed: tuple[bytes, bytes, bytes, bytes]) -> bytes:
        kind_phase, args, result, context = unsealed
        return b"".join((
            self.header, _id(e.event_id), av.long(e.event_time_us), kind_phase, _id(e.call_id),
            args, result, context, av.long(e.seq), _hex(e.prev_hash), _hex(e.hash),
            av.opt_string(e.origin_key_id), _opt_hex(e.origin_mac),
        ))  # fmt: skip

    def _args(self, e: CallEvent, template: tuple[bytes, bytes, bytes, bytes]) -> bytes:
        """Actor, target and arguments: a RESULT repeats its ATTEMPT's (CallEvent.shared)."""
        return b"".join((
            self._head(e, template), av.opt_string(e.args_json), _opt_hex(e.args_digest),
        ))  # fmt: skip

    def _head(self, e: CallEvent, template: tuple[bytes, bytes, bytes, bytes]) -> bytes:
        actor_target, target_tail, _, _ = template
        return actor_target + self._arg_keys(e.arg_keys) + target_tail

    def _result(self, e: CallEvent) -> bytes:
        if e.outcome is None and e.result_json is None and e.result_digest is None:
            return _NO_RESULT[e.truncated] + av.int_(e.redactions) + av.NULL
        return b"".join((
            av.opt_string(e.result_json), _opt_hex(e.result_digest),
            b"\x01" if e.truncated else b"\x00", av.int_(e.redactions), encode_outcome(e.outcome),
        ))  # fmt: skip

    def _context(self, e: CallEvent, template: tuple[bytes, bytes, bytes, bytes]) -> bytes:
        """Request context, producer, compliance and the stream id: the same for a whole call."""
        s = av.opt_string
        return b"".join((
            s(e.request_id), s(e.trace_id), s(e.span_id), self._middle(e, template),
            self._stream(e.stream_id),
        ))  # fmt: skip

    def _middle(self, e: CallEvent, template: tuple[bytes, bytes, bytes, bytes]) -> bytes:
        """From the producer context to the attributes."""
        _, _, producer, compliance = template
        ai = av.NULL if e.ai is None else encode_ai(e.ai)
        if e.lineage is None and e.heartbeat is None and not e.attributes:
            return producer + ai + av.NULL + av.NULL + compliance + av.NULL
        return b"".join((
            producer, ai, encode_lineage(e.lineage), encode_heartbeat(e.heartbeat), compliance,
            av.string_map(e.attributes),
        ))  # fmt: skip

    def around_args(self, e: CallEvent) -> tuple[bytes, bytes]:
        """The bytes from the actor to the end of the target (arg_keys included), and from
        the producer context to the attributes: what the compiled sealer takes ready-made
        and writes the per-event fields around."""
        template = self._template(e)
        return self._head(e, template), self._middle(e, template)

    def _arg_keys(self, keys: tuple[str, ...]) -> bytes:
        """Argument names repeat call after call (the minimiser hands out the same tuple)."""
        if not keys:
            return av.NULL
        hit = self._keys.get(id(keys))
        if hit is not None and hit[0] is keys:
            return hit[1]
        encoded = av.strings(keys)
        remember(self._keys, id(keys), (keys, encoded), _CACHE_LIMIT)
        return encoded

    def _stream(self, stream_id: str) -> bytes:
        if stream_id is not self._stream_id:
            self._stream_id, self._stream_bytes = stream_id, av.string(stream_id)
        return self._stream_bytes


# Fixed-length ASCII fields (UUID text, SHA-256 hex) skip the length computation.
_UUID_PREFIX = av.long(36)
_HEX_PREFIX = av.long(64)
# An event without result fields: null result_json and result_digest, then truncated.
_NO_RESULT = {False: av.NULL + av.NULL + b"\x00", True: av.NULL + av.NULL + b"\x01"}


def _id(value: str) -> bytes:
    if len(value) == 36 and value.isascii():  # 36 characters are 36 bytes only in ASCII
        return _UUID_PREFIX + value.encode()
    return av.string(value)


def _hex(value: str) -> bytes:
    if len(value) == 64 and value.isascii():
        return _HEX_PREFIX + value.encode()
    return av.string(value)


def _opt_hex(value: str | None) -> bytes:
    return av.NULL if value is None else b"\x02" + _hex(value)
