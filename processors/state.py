"""Detector state that survives restarts through a Faust table's changelog.

The enrichment path does not run inside a Faust stream (see docs/processors.md),
so it cannot use ``table[key] = value``, which needs a current stream event to
pick the changelog partition. Instead the live state is a plain dict this
worker owns, and :class:`TableBackedState` writes the entries a batch changed
to the table's changelog through Faust's producer (``Table.send_changelog``).
Faust recovers the table from that changelog when a worker starts, and keeps
it current from other workers' writes; when partitions are assigned, entries
for those partitions are taken from the table into the live dict.

Lifecycle: create with the table; call :meth:`adopt` on assignment; at the end
of each batch take a :meth:`snapshot` of what it changed, and once the batch's
output is acknowledged :meth:`send` it (then flush Faust's producer) before
committing the batch's offsets, so a committed offset never runs ahead of the
state it produced, and state never runs ahead of acknowledged output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import orjson

TOOL_PREFIX = "tool\x1f"
PARTITION_FIELD = "_p"


class ChangelogTable(Protocol):
    """The part of a Faust table this module uses."""

    @property
    def data(self) -> Mapping[str, Any]: ...

    def send_changelog(self, partition: int | None, key: Any, value: Any) -> Any: ...


class RecordingDict(dict[str, str]):
    """A dict that remembers which keys were set since :attr:`changed` was last cleared."""

    def __init__(self) -> None:
        super().__init__()
        self.changed: set[str] = set()

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self.changed.add(key)


class TableBackedState:
    def __init__(self, table: ChangelogTable) -> None:
        self.table = table
        self.users: dict[str, dict[str, Any]] = {}
        self.tools = RecordingDict()

    def adopt(self, partitions: Iterable[int]) -> int:
        """Load users of ``partitions`` and every tool fingerprint from the table."""
        wanted = set(partitions)
        loaded = 0
        for key, value in list(self.table.data.items()):
            if key.startswith(TOOL_PREFIX):
                dict.setdefault(self.tools, key[len(TOOL_PREFIX) :], value)
            elif isinstance(value, dict) and value.get(PARTITION_FIELD) in wanted:
                self.users[key] = value
                loaded += 1
        return loaded

    def release(self, partitions: Iterable[int]) -> int:
        """Forget users of partitions another worker now owns (it holds their live state)."""
        gone = set(partitions)
        users = [u for u, s in self.users.items() if s.get(PARTITION_FIELD) in gone]
        for user in users:
            del self.users[user]
        return len(users)

    def snapshot(
        self, users: Iterable[str], partition_of: Mapping[str, int]
    ) -> list[tuple[str, Any]]:
        """Changelog entries, as of now, for the named users (tagged with their partition)
        and every tool fingerprint changed since the last snapshot.

        Copies, because the worker goes on changing the live state while the entries
        wait for their batch's output to be acknowledged (see :meth:`send`).
        """
        entries: list[tuple[str, Any]] = []
        for user in users:
            state = self.users.get(user)
            if state is not None:
                state[PARTITION_FIELD] = partition_of.get(user, state.get(PARTITION_FIELD, -1))
                entries.append((user, _copy(state)))
        entries += [(TOOL_PREFIX + key, self.tools[key]) for key in self.tools.changed]
        self.tools.changed.clear()
        return entries

    def send(self, entries: Iterable[tuple[str, Any]]) -> None:
        """Write entries from :meth:`snapshot` to the changelog (flush the producer after)."""
        for key, value in entries:
            self.table.send_changelog(0, key, value)


def _copy(state: dict[str, Any]) -> Any:
    # Detector state is JSON by design and holds only finite numbers, so a JSON round
    # trip is an exact deep copy, and 8x faster than copy.deepcopy (3.8 against 30 us).
    return orjson.loads(orjson.dumps(state))
