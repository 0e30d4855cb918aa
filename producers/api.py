"""The plain Python API: audit what no middleware sees.

Resource access with data lineage, context operations (what an agent put into
or took out of its context), prompt executions, and permission or
configuration changes. Each function records one event (phase EVENT) through
the process-wide Auditor, returns None, and never raises: a failure inside
auditing is counted. Changed values are recorded as keyed digests (under the
digest key, see :mod:`producers.privacy.pseudonym`), never in clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from producers.actor import current_actor
from producers.errors import AuditUnavailable
from producers.event.model import Lineage
from producers.event.origin import producer_info
from producers.runtime import get_auditor


def _record(
    event_type: str, *, digests: dict[str, Any] | None = None,
    people: dict[str, str] | None = None, **fields: Any,
) -> None:  # fmt: skip
    """Record one event; ``digests`` are values to record as keyed digests in its attributes,
    ``people`` ids to record as pseudonyms (the key that made them beside, as ``*_key_id``)."""
    try:
        auditor = get_auditor()
    except AuditUnavailable:  # never raises (above); the refusal was logged at start
        return
    if auditor is None:
        return
    try:
        keyed = {name: auditor.minimiser.of_value(v) for name, v in (digests or {}).items()}
        for name, person in (people or {}).items():
            keyed[name] = auditor.pseudonymise(person) or ""
            keyed[f"{name}_key_id"] = auditor.pseudonymise.key_id
        if keyed:
            fields["attributes"] = {**fields.get("attributes", {}), **keyed}
        auditor.record(event_type, producer_info("api"), actor=current_actor.get(), **fields)
    except Exception:
        auditor.counters.failure("api")


def resource_accessed(
    uri: str, *, operation: str = "read", sources: Sequence[str] = (),
    destinations: Sequence[str] = (), data_categories: Sequence[str] = (),
) -> None:  # fmt: skip
    """A resource was read or written; ``sources``/``destinations`` trace where data flowed."""
    lineage = Lineage(
        operation, tuple(sources) or (uri,), tuple(destinations), tuple(data_categories)
    )
    _record("RESOURCE_READ", kind="RESOURCE_READ", name=uri, lineage=lineage)


def context_operation(
    operation: str, *, sources: Sequence[str] = (), destinations: Sequence[str] = (),
    data_categories: Sequence[str] = (),
) -> None:  # fmt: skip
    """Data entered or left an agent's context (e.g. ``"inject"``, ``"summarise"``, ``"evict"``)."""
    lineage = Lineage(operation, tuple(sources), tuple(destinations), tuple(data_categories))
    _record("CONTEXT_OPERATION", lineage=lineage)


def prompt_executed(name: str, arguments: dict[str, Any] | None = None) -> None:
    """A prompt template was rendered outside an MCP prompts/get (arguments kept as a digest)."""
    _record("PROMPT_GET", kind="PROMPT_GET", name=name, digests={"args_digest": arguments})


def permission_changed(subject: str, permission: str, *, old: Any, new: Any) -> None:
    """Who gained or lost what: the subject as its keyed pseudonym (the one its own calls
    carry), old and new values as digests only."""
    _record(
        "PERMISSION_CHANGE", attributes={"attribute": permission}, people={"subject": subject},
        digests={"old_digest": old, "new_digest": new},
    )  # fmt: skip


def config_changed(setting: str, *, old: Any, new: Any) -> None:
    """A configuration value changed; old and new values are recorded as digests only."""
    _record(
        "CONFIG_CHANGE", attributes={"attribute": setting},
        digests={"old_digest": old, "new_digest": new},
    )  # fmt: skip
