"""Seal events into the producer's stream and encode them: compiled when built, else Python.

Sealing (id, time, sequence number, chain hash) and encoding are most of an
audited call's cost, so ``producers._sealc`` (source in ``producers/csrc/``) does
both in one C call when the package was installed with a C compiler and
OpenSSL's headers. Without them the install still succeeds and
:class:`producers.event.chain.Stream` with :class:`producers.event.encoder.EventEncoder` do
the same work in Python; tests hold the two to the same bytes and the same
chain. :data:`NATIVE` says which runs. An event holding a value no reader reads
(a lone surrogate, a number out of its Avro type's range) is repaired by
:func:`producers.event.repair.repair` and sealed, on both paths alike, never refused.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from producers.event.chain import Stream
from producers.event.encoder import EventEncoder
from producers.event.enums import EVENT_TYPES, PHASES, STATUSES
from producers.event.model import CallEvent, Outcome
from producers.event.repair import repair
from schemas.framing import RegistryFraming
from schemas.integrity import OriginKey

try:
    from producers._sealc import Sealer as _CompiledSealer
except ImportError:  # built without a compiler or OpenSSL headers
    _CompiledSealer = None  # type: ignore[assignment, misc]

NATIVE = _CompiledSealer is not None


class Sealer:
    """One producer stream's events, sealed in order and encoded. Thread-safe.

    Calling it gives ``event`` its ``event_id``, ``event_time_us``, ``stream_id``,
    ``seq``, ``prev_hash`` and ``hash`` (and an ATTEMPT its ``call_id``) and returns
    the event's bytes: single-object, or framed as :attr:`header` says. A value no
    reader reads is repaired first (:mod:`producers.event.repair`); an event refused all the
    same (a type or enum symbol the schema has not) raises before the stream advances,
    so it leaves no gap in the chain. With an ``origin`` key the event also gets
    ``origin_key_id`` and ``origin_mac``.
    """

    def __init__(
        self,
        stream_id: str | None = None,
        *,
        native: bool = NATIVE,
        origin: OriginKey | None = None,
    ) -> None:
        if native and _CompiledSealer is None:
            raise ImportError("producers._sealc was not built: install with a C compiler")
        self.stream = Stream(stream_id, origin)
        self.encoder = EventEncoder()
        self.stream_id = self.stream.stream_id
        self._numbering: Stream | _CompiledSealer = self.stream  # whichever counts seq
        if _CompiledSealer is not None and native:
            make_shape = functools.partial(_shape, self.encoder, self.stream)
            self._compiled = _CompiledSealer(
                self.stream_id, self.encoder.header, EVENT_TYPES, PHASES, STATUSES,
                CallEvent, Outcome, make_shape, repair,
                key_id=None if origin is None else origin.key_id,
                key=None if origin is None else origin.key,
            )  # fmt: skip
            self._numbering = self._compiled
            self.seal: Callable[[CallEvent], bytes] = self._compiled.seal
        else:
            self.seal = self._seal_python
        self._framing: RegistryFraming | None = None

    def frame_with_registry(self, registry_url: str, topic: str) -> None:
        """Confluent framing from when the registry gives AuditEvent's id under
        ``topic``'s subject (asked in the background); single-object until then."""
        self.close()
        self._framing = RegistryFraming("AuditEvent", registry_url, topic, self._use_header)
        self._framing.start()

    def _use_header(self, header: bytes) -> None:
        self.header = header

    def close(self) -> None:
        """Stop asking the registry, if it has not answered yet."""
        if self._framing is not None:
            self._framing.stop()

    @property
    def seq(self) -> int:
        """The last sealed event's sequence number in this stream."""
        return self._numbering.seq

    @property
    def header(self) -> bytes:
        """What goes before each event's body: single-object magic and fingerprint, or
        Confluent's magic and schema id once :mod:`schemas.framing` has it."""
        return self.encoder.header

    @header.setter
    def header(self, value: bytes) -> None:
        self.encoder.header = value
        if self._numbering is not self.stream:
            self._compiled.header = value

    def _seal_python(self, event: CallEvent) -> bytes:
        event.stream_id = self.stream_id  # the context segment ends with it
        try:
            unsealed = self.encoder.unsealed(event)
        except (UnicodeEncodeError, OverflowError):
            repair(event)
            unsealed = self.encoder.unsealed(event)
        self.stream.seal(event)
        return self.encoder.sealed(event, unsealed)


def _shape(encoder: EventEncoder, stream: Stream, event: CallEvent) -> tuple[bytes, bytes, str]:
    """What the compiled sealer remembers per actor, target, argument names, producer and
    compliance: the bytes before the arguments, the bytes from the producer context to
    the attributes, and the chained actor and target text."""
    head, middle = encoder.around_args(event)
    return head, middle, stream.part(event.actor, event.target)
