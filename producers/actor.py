"""Who is calling: a context variable integrations read, set per request or task.

``with acting_as(user_id="alice", client_id="claude"):`` makes every audited
call inside (also in tasks spawned inside) carry alice's pseudonym. The raw
user id is pseudonymised here and never stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from producers.event.model import Actor, Delegation
from producers.integrations.mcp_meta import wire_text

if TYPE_CHECKING:
    from producers.privacy.pseudonym import Pseudonymiser

ANONYMOUS = Actor()
current_actor: ContextVar[Actor] = ContextVar("mcp_audit_actor", default=ANONYMOUS)


def make_actor(
    pseudonymise: Pseudonymiser, *, user_id: str | None = None, on_behalf_of: str | None = None,
    agent_id: str | None = None, agent_name: str | None = None, scopes: Sequence[str] = (),
    **fields: str | None,
) -> Actor:  # fmt: skip
    """An Actor with keyed pseudonyms; ``fields`` are the other Actor fields (client_id, ip ...).

    Texts are bounded like every identifier read from the wire (a client's name from its
    initialize can be any length); built once per distinct caller (Auditor.actor caches)."""
    fields = {k: _bounded(v) for k, v in fields.items()}
    agent_id, agent_name = _bounded(agent_id), _bounded(agent_name)
    delegation = None
    if agent_id or agent_name or on_behalf_of:
        delegation = Delegation(agent_id, agent_name, pseudonymise(on_behalf_of))
    user = pseudonymise(user_id)
    key_id = pseudonymise.key_id if user_id or on_behalf_of else None
    return Actor(
        user_pseudonym=user, pseudonym_key_id=key_id, scopes=tuple(scopes),
        delegation=delegation, **fields,
    )  # fmt: skip


def _bounded(value: str | None) -> str | None:
    return wire_text(value) if isinstance(value, str) else value


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = current_actor.set(actor)
    try:
        yield actor
    finally:
        current_actor.reset(token)
