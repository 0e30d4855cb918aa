"""The Auditor: turns calls into sealed, encoded events and hands them to the publisher.

Integrations call :meth:`Auditor.begin` before a call runs (an ATTEMPT
event) and :meth:`Call.end` after it (a RESULT event sharing the call id).
Neither ever raises into the call, with one deliberate exception: for a
fail-closed class while events cannot be persisted, :meth:`begin` audits a
DENIED event and raises :class:`AuditRefused`. Thread-safe.

No call goes unaudited: when the full event cannot be made (a value the schema
cannot hold, a bug), a minimal one is written instead, with what is known (server,
method, target, request id, the user's pseudonym) and the failure's reason in the
``audit_failure`` attribute, and counted in ``audit_failures``. Only when even that
cannot be written is the call unaudited: then a fail-closed class is refused.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Mapping
from typing import Any

from producers.actor import make_actor
from producers.call import Call
from producers.errors import AuditRefused
from producers.event.model import (
    Actor,
    Annotations,
    CallEvent,
    Compliance,
    Heartbeat,
    Lineage,
    Outcome,
    Producer,
    Target,
)
from producers.event.origin import producer_info
from producers.event.sealer import Sealer
from producers.integrations.mcp_meta import TARGET_LIMIT, wire_text
from producers.privacy.payload import Minimiser
from producers.privacy.policy import ClassRule, Policy
from producers.privacy.pseudonym import Pseudonymiser
from producers.privacy.redact import Redactor, Walk
from producers.transport.counters import Counters
from producers.transport.publisher import Publisher
from schemas.caches import remember
from schemas.integrity import OriginKey

ANONYMOUS = Actor()
AUDIT_FAILURE = "audit_failure"  # the attribute a minimal event gives its reason in

_KIND_FIELD = {
    "TOOL_CALL": "tool_name",
    "RESOURCE_READ": "resource_uri",
    "PROMPT_GET": "prompt_name",
}
# The Actor's texts a client or caller writes freely (ids and pseudonyms are kept as they are).
_ACTOR_TEXTS = ("client_name", "client_version", "user_agent")
_METHOD = {
    "TOOL_CALL": "tools/call",
    "RESOURCE_READ": "resources/read",
    "PROMPT_GET": "prompts/get",
}


class Auditor:
    def __init__(
        self,
        *,
        server_id: str,
        server_version: str | None,
        policy: Policy,
        pseudonymiser: Pseudonymiser,
        minimiser: Minimiser,
        publisher: Publisher,
        counters: Counters,
        heartbeat_interval_s: float,
        origin: OriginKey | None = None,
    ) -> None:
        self.server_id, self.server_version = server_id, server_version
        self.policy, self.pseudonymise, self.minimiser = policy, pseudonymiser, minimiser
        self.publisher, self.counters = publisher, counters
        self.sealer = Sealer(origin=origin)
        self._stream_key = self.sealer.stream_id.encode()  # the key of events with no user
        self.fingerprints: dict[str, str] = {}
        self.annotations: dict[str, Annotations] = {}
        # (kind, name, method) -> the Target and how many values redacting its name took out
        self._targets: dict[tuple[str, str, str | None], tuple[Target, int]] = {}
        # id(actor) -> (actor, the actor with its texts redacted, how many values that took out)
        self._cleaned: dict[int, tuple[Actor, Actor, int]] = {}
        self._compliance: dict[ClassRule, Compliance] = {}
        self._actors: dict[tuple[Any, ...], Actor] = {}
        self._default_compliance = Compliance(
            policy.default.retention_days, False, policy.version, minimiser.digest.key_id
        )
        # The schema's interval is whole seconds; rounding down (0.5 s to 0) would make
        # the pipeline watch call the producer silent between any two beats.
        self._beat_interval_s = max(1, math.ceil(heartbeat_interval_s))
        self._beat_lock = threading.Lock()
        self._stopped = False  # the final heartbeat is out: no more beats

    def target(self, kind: str, name: str, method: str | None = None) -> Target:
        return self._target(kind, name, method)[0]

    def _target(self, kind: str, name: str, method: str | None = None) -> tuple[Target, int]:
        """The Target of a call, its name redacted (the policy still matches the name as
        given), and how many values that redaction took out."""
        key = (kind, name, method)
        found = self._targets.get(key)
        fingerprint = self.fingerprints.get(name) if kind == "TOOL_CALL" else None
        if found is None or found[0].tool_fingerprint != fingerprint:
            walk = Walk()
            target = Target(
                self.server_id, self.server_version, method=method or _METHOD.get(kind),
                annotations=self.annotations.get(name) if kind == "TOOL_CALL" else None,
                tool_fingerprint=fingerprint,
                classification=self.policy.rule_for(name).classification,
                **self._named(kind, name, walk),
            )  # fmt: skip
            # bounded: resource URIs are unbounded
            found = remember(self._targets, key, (target, walk.redactions), 4096)
        return found

    def _named(self, kind: str, name: str, walk: Walk) -> dict[str, Any]:
        """The Target field naming what a call of ``kind`` acts on, redacted."""
        if kind not in _KIND_FIELD:
            return {}
        field = _KIND_FIELD[kind]
        text = self.minimiser.redactor.field(_target_text(name), walk)
        if field == "tool_name":
            return {field: text}
        return {field: text, f"{field}_digest": self._keyed(text)}

    def _keyed(self, value: str) -> str:
        """The keyed digest the hash chain covers instead of a personal identifier
        (schemas.integrity.DIGESTED), so erasure can clear the value itself. Callers
        cache it with what holds it: a session's Actor, a resource's Target."""
        return self.minimiser.digest(value.encode("utf-8", "surrogatepass"))

    def _actor(self, actor: Actor) -> tuple[Actor, int]:
        """``actor`` with the texts its client wrote redacted, and how many values that
        took out. Cached by identity: one caller's Actor is one object call after call."""
        found = self._cleaned.get(id(actor))
        if found is not None and found[0] is actor:
            return found[1], found[2]
        walk = Walk()
        field = self.minimiser.redactor.field
        changed: dict[str, Any] = {}
        for name in _ACTOR_TEXTS:
            value = getattr(actor, name)
            if type(value) is str and (text := field(value, walk)) != value:
                changed[name] = text
        agent = actor.delegation
        if agent is not None and type(agent.agent_name) is str:
            text = field(agent.agent_name, walk)
            if text != agent.agent_name:
                changed["delegation"] = dataclasses.replace(agent, agent_name=text)
        if type(actor.session_id) is str:
            changed["session_digest"] = self._keyed(actor.session_id)
        cleaned = dataclasses.replace(actor, **changed) if changed else actor
        remember(self._cleaned, id(actor), (actor, cleaned, walk.redactions), 4096)
        return cleaned, walk.redactions

    def compliance(self, rule: ClassRule) -> Compliance:
        found = self._compliance.get(rule)
        if found is None:
            found = self._compliance[rule] = Compliance(
                rule.retention_days, rule.fail_closed, self.policy.version,
                self.minimiser.digest.key_id,
            )  # fmt: skip
        return found

    def actor(self, *, user_id: str | None = None, **fields: Any) -> Actor:
        """The Actor for these facts, pseudonymised and cached (the encoder caches by identity)."""
        key = (
            user_id,
            *sorted((k, v if not isinstance(v, list) else tuple(v)) for k, v in fields.items()),
        )
        found = self._actors.get(key)
        if found is None:
            made = make_actor(self.pseudonymise, user_id=user_id, **fields)
            found = remember(self._actors, key, made, 4096)
        return found

    def record(
        self, event_type: str, producer: Producer, *, actor: Actor = ANONYMOUS,
        method: str | None = None, name: str | None = None, kind: str | None = None,
        attributes: Mapping[str, str] | None = None, lineage: Lineage | None = None,
        request_id: str | None = None,
    ) -> None:  # fmt: skip
        """A one-shot event (phase EVENT): session start, tool listing, config change ..."""
        try:
            target, found = self._target(kind or event_type, name or "", method) if name else (
                Target(self.server_id, self.server_version, method=method), 0
            )  # fmt: skip
            actor, cleaned = self._actor(actor)
            walk = Walk()
            redactor = self.minimiser.redactor
            clean = {  # keys too: a tool listing's keys are tool names
                redactor.field(str(k), walk): redactor.text(str(v), walk)
                for k, v in (attributes or {}).items()
            }
            event = CallEvent(
                event_type, "EVENT", "", actor, target, producer, self._default_compliance,
                request_id=request_id, lineage=_lineage(lineage, redactor, walk),
                attributes=clean, redactions=walk.redactions + found + cleaned,
            )  # fmt: skip
            self.emit(event)
        except Exception:
            self.counters.failure("record")

    def begin(
        self, kind: str, name: str, args: Any, producer: Producer, *,
        actor: Actor = ANONYMOUS, request_id: str | None = None,
        trace: tuple[str | None, str | None] = (None, None), ai: Mapping[str, Any] | None = None,
    ) -> Call | None:  # fmt: skip
        """Audit the ATTEMPT of a call: in full, else minimal (:meth:`begin_minimal`)."""
        try:
            rule = self.policy.rule_for(name)
            target, found = self._target(kind, name)
            caller, cleaned = self._actor(actor)
            walk = Walk()
            event = CallEvent(
                kind, "ATTEMPT", "", caller, target, producer,
                self.compliance(rule), request_id=request_id, trace_id=trace[0], span_id=trace[1],
            )  # fmt: skip
            if ai:
                event.ai = self._ai(ai, walk)
            self.minimiser.args(event, args, rule)
            event.redactions += found + cleaned + walk.redactions
            call = Call(self, event, rule)
            self.emit(event)
        except Exception as exc:
            return self.begin_minimal(
                kind, name, producer, request_id=request_id, actor=actor,
                reason=f"attempt: {type(exc).__name__}",
            )  # fmt: skip
        if rule.fail_closed and not self.publisher.healthy:
            self._refuse(call)
        return call

    def begin_minimal(
        self, kind: str, name: str, producer: Producer, *, request_id: str | None,
        reason: str, actor: Actor = ANONYMOUS,
    ) -> Call | None:  # fmt: skip
        """The ATTEMPT of a call whose full event could not be made: server, method, target,
        request id, the user's pseudonym and ``reason`` (no exception text: it may quote
        the call's data). Counted as an audit failure; its RESULT follows as any call's.

        None when not even this can be written; then a fail-closed class is refused
        (:class:`AuditRefused`, unaudited: nothing can be). Never raises otherwise.
        """
        self.counters.failure("begin")
        rule = self.policy.default
        try:
            rule = self.policy.rule_for(name)
            walk = Walk()
            target = Target(
                self.server_id, self.server_version, method=_METHOD.get(kind),
                classification=rule.classification, **self._named(kind, name, walk),
            )  # fmt: skip
            event = CallEvent(
                kind, "ATTEMPT", "", _pseudonym_only(actor), target, producer,
                self.compliance(rule), request_id=request_id, attributes={AUDIT_FAILURE: reason},
                redactions=walk.redactions,
            )  # fmt: skip
            call = Call(self, event, rule)
            self.emit(event)
        except Exception:
            self.counters.failure("minimal attempt")
            if rule.fail_closed:
                raise AuditRefused(
                    "refused: this call cannot be audited",
                    tool=_target_text(name),
                    classification=rule.classification,
                ) from None
            return None
        if rule.fail_closed and not self.publisher.healthy:
            self._refuse(call)
        return call

    def _refuse(self, call: Call) -> None:
        call.end("DENIED")
        raise AuditRefused(
            "refused: this call's audit events cannot be persisted right now",
            tool=call.event.target.tool_name or call.event.target.resource_uri or "",
            classification=call.rule.classification,
        )

    def _ai(self, ai: Mapping[str, Any], walk: Walk) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for key in ("model", "reason", "user_intent"):
            value = ai.get(key)
            out[key] = None if value is None else self.minimiser.redactor.field(str(value), walk)
        return out

    def result_event(
        self, call: Call, status: str, duration_us: int, result: Any, error: BaseException | None
    ) -> CallEvent:
        attempt = call.event
        # Positional as far as the optional fields: every call builds two events, and by
        # name a CallEvent costs 1.5x (0.8 against 1.4 us, best of 20 runs, issue 19).
        event = CallEvent(
            attempt.event_type, "RESULT", attempt.call_id, attempt.actor, attempt.target,
            attempt.producer, attempt.compliance, attempt.arg_keys, attempt.args_json,
            attempt.args_digest, truncated=attempt.truncated, redactions=attempt.redactions,
            request_id=attempt.request_id, trace_id=attempt.trace_id, span_id=attempt.span_id,
            ai=attempt.ai, attributes=attempt.attributes, shared=attempt.shared,
        )  # fmt: skip
        outcome = event.outcome = Outcome(status, duration_us)
        if status == "SUCCESS":
            outcome.result_size = self.minimiser.result(event, result, call.rule)
        if error is not None:
            named = getattr(error, "audit_type", None)
            walk = Walk()  # a JSON-RPC error's code is the server's to write
            kind = named if type(named) is str else type(error).__name__
            outcome.error_type = self.minimiser.redactor.field(kind, walk)
            event.redactions += walk.redactions
            outcome.error_message = self.minimiser.error_message(error, event, call.rule)
        return event

    def result_minimal(self, call: Call, status: str, duration_us: int, reason: str) -> None:
        """The RESULT of a call whose full RESULT could not be made: status, duration and
        ``reason``, with the ATTEMPT's actor and target (written, so writable). Counted."""
        self.counters.failure("end")
        attempt = call.event
        event = CallEvent(
            attempt.event_type, "RESULT", attempt.call_id, attempt.actor, attempt.target,
            attempt.producer, attempt.compliance, request_id=attempt.request_id,
            outcome=Outcome(status, duration_us), attributes={AUDIT_FAILURE: reason},
        )  # fmt: skip
        try:
            self.emit(event)
        except Exception:
            self.counters.failure("minimal result")

    def emit(self, event: CallEvent) -> None:
        """Seal, encode and queue one event (keyed by user pseudonym, else by stream).

        An ATTEMPT's call id is its own event id, which its RESULT then shares.
        """
        data = self.sealer.seal(event)
        self.counters.redactions += event.redactions
        pseudonym = event.actor.user_pseudonym
        key = pseudonym.encode() if pseudonym else self._stream_key
        self.publisher.publish(key, data)

    def heartbeat(self, *, final: bool = False) -> None:
        """Emit the counters; ``final`` marks the last beat of a clean stop.

        The I/O thread ticks while :meth:`close` runs on another thread: the lock and
        flag keep a regular beat from being sealed after the final one, which would
        make the stream look alive again and then silent (a false alert).
        """
        with self._beat_lock:
            if self._stopped:
                return
            if final:
                self._stopped = True
            c = self.counters
            beat = Heartbeat(
                self._beat_interval_s, c.sent, c.spooled, c.dropped, c.redactions,
                c.audit_failures, c.spool_bytes, final,
            )  # fmt: skip
            event = CallEvent(
                "HEARTBEAT", "EVENT", "", ANONYMOUS, Target(self.server_id, self.server_version),
                producer_info("heartbeat"), Compliance(), heartbeat=beat,
            )  # fmt: skip
            self.emit(event)

    def close(self, timeout_s: float = 10.0) -> None:
        """Say this stream stops cleanly, then flush for up to ``timeout_s`` and stop.

        The final heartbeat is queued before the flush so it is delivered, or spooled
        and replayed, like any event; the pipeline watch then does not report the
        silence as a failure. A crash never gets here, so its silence still alerts.
        """
        try:
            self.heartbeat(final=True)
        except Exception:  # the flush below matters more than the farewell
            self.counters.failure("final heartbeat")
        self.sealer.close()
        self.publisher.close(timeout_s)


def _target_text(name: str) -> str:
    """A target's name as an event can hold it (bounded, UTF-8 encodable)."""
    return wire_text(name, TARGET_LIMIT) or ""


def _lineage(lineage: Lineage | None, redactor: Redactor, walk: Walk) -> Lineage | None:
    """Where data came from and went (URIs, table names), redacted like a resource URI."""
    if lineage is None:
        return None

    def each(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(redactor.field(v, walk) if type(v) is str else v for v in values)

    operation = lineage.operation
    return Lineage(
        redactor.field(operation, walk) if type(operation) is str else operation,
        each(lineage.sources), each(lineage.destinations), each(lineage.data_categories),
    )  # fmt: skip


def _pseudonym_only(actor: Actor) -> Actor:
    """Who called, as far as a minimal event keeps it: the pseudonym, if it is one."""
    user, key = actor.user_pseudonym, actor.pseudonym_key_id
    if type(user) is str and (key is None or type(key) is str):
        return Actor(user_pseudonym=user, pseudonym_key_id=key)
    return ANONYMOUS
