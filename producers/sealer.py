"""Seal events into the producer's stream and encode them: compiled when built, else Python.

Sealing (id, time, sequence number, chain hash) and encoding are most of an
audited call's cost, so ``producers._sealc`` (source in ``producers/csrc/``) does
both in one C call when the package was installed with a C compiler and
OpenSSL's headers. Without them the install still succeeds and
:class:`producers.chain.Stream` with :class:`producers.encoder.EventEncoder` do
the same work in Python; tests hold the two to the same bytes and the same
chain. :data:`NATIVE` says which runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from producers.chain import Stream
from producers.encoder import EventEncoder
from producers.model import EVENT_TYPES, PHASES, STATUSES, CallEvent, Outcome
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
    the event's single-object bytes; with an ``origin`` key also ``origin_key_id``
    and ``origin_mac``. A refused event (a value the schema cannot
    hold) raises before the stream advances, so it leaves no gap in the chain.
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
                CallEvent, Outcome, make_shape,
                key_id=None if origin is None else origin.key_id,
                key=None if origin is None else origin.key,
            )  # fmt: skip
            self._numbering = self._compiled
            self.seal: Callable[[CallEvent], bytes] = self._compiled.seal
        else:
            self.seal = self._seal_python

    @property
    def seq(self) -> int:
        """The last sealed event's sequence number in this stream."""
        return self._numbering.seq

    def _seal_python(self, event: CallEvent) -> bytes:
        event.stream_id = self.stream_id  # the context segment ends with it
        unsealed = self.encoder.unsealed(event)
        self.stream.seal(event)
        return self.encoder.sealed(event, unsealed)


def _shape(encoder: EventEncoder, stream: Stream, event: CallEvent) -> tuple[bytes, bytes, str]:
    """What the compiled sealer remembers per actor, target, argument names, producer and
    compliance: the bytes before the arguments, the bytes from the producer context to
    the attributes, and the chained actor and target text."""
    head, middle = encoder.around_args(event)
    return head, middle, stream.part(event.actor, event.target)
