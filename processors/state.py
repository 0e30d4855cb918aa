"""Detector state that survives restarts through a Faust table's changelog.

The enrichment path does not run inside a Faust stream (see docs/processors.md),
so it cannot use ``table[key] = value``, which needs a current stream event to
pick the changelog partition. Instead the live state is a plain dict this
worker owns, and :class:`TableBackedState` turns the entries a batch changed
into changelog messages in the table's serialization (JSON keys and values, as
the app configures it; orjson, 7x cheaper than Faust's own serializer here).
The worker's confluent-kafka producer sends them, not Faust's: Faust's producer
runs on the event loop that enrichment keeps busy, and its flush took 80-100 ms
a batch there (about 15 ms this way).
Faust recovers the table from that changelog when a worker starts, and keeps
it current from other workers' writes; when partitions are assigned, entries
for those partitions are taken from the table into the live dict.

What the state remembers of people is never in clear, neither in the live dict
nor in the changelog topic (which anyone who can read the broker reads): users
are keyed by their producer pseudonym, and the values detectors remember per
user (resource URIs, IPs, client ids, tool names) are :class:`StateTokens`,
keyed HMAC-SHA256 tokens. Keyed, because an unsalted digest of
``db://patients/42`` is reversed by counting patients; stable across restarts
and workers, because a token the next worker cannot recompute would make every
known IP look new. The key is ``MCP_AUDIT_PROCESSORS_STATE_KEY_FILE``, or a key
the worker creates (0600) in its data directory: every worker of a group must
share it (:func:`load_state_key`).

Lifecycle: create with the table; call :meth:`adopt` on assignment; at the end
of each batch take a :meth:`snapshot` of what it changed, and once the batch's
output is acknowledged send its :meth:`messages` and wait for them before
committing the batch's offsets, so a committed offset never runs ahead of the
state it produced, and state never runs ahead of acknowledged output.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson

from processors.messages import OutMessage
from schemas.caches import remember
from schemas.errors import ConfigError

TOOL_PREFIX = "tool\x1f"
PARTITION_FIELD = "_p"
STATE_KEY_NAME = "state.key"
MIN_KEY_BYTES = 16
_TOKEN_HEX = 32  # 128 bits: no collision among the few hundred values a user has
_TOKENS_KEPT = 65_536  # remembered tokens before the cache starts over (bounded memory)


class StateTokens:
    """Keyed tokens for values detector state remembers: the first 128 bits of HMAC-SHA256, hex.

    Remembered per value: the same IPs, clients and URIs recur event after event,
    and an HMAC per event would be a measurable share of the enrichment path.
    """

    __slots__ = ("_key", "_known")

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError("the state key is too short", min_bytes=MIN_KEY_BYTES)
        self._key = key
        self._known: dict[str, str] = {}

    @classmethod
    def ephemeral(cls) -> StateTokens:
        """A random key: tokens that mean something to this process only (tests, one-offs)."""
        return cls(os.urandom(32))

    def __call__(self, value: str) -> str:
        token = self._known.get(value)
        if token is None:
            data = value.encode("utf-8", "surrogatepass")
            token = hmac.new(self._key, data, hashlib.sha256).hexdigest()[:_TOKEN_HEX]
            remember(self._known, value, token, _TOKENS_KEPT)
        return token


def load_state_key(key_file: Path | None, data_dir: Path) -> bytes:
    """The key in ``key_file``; without one, ``data_dir/state.key``, created 0600 if absent."""
    path = key_file or data_dir / STATE_KEY_NAME
    try:
        if key_file is not None or path.exists():
            return path.read_bytes().rstrip(b"\r\n")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        return key
    except FileExistsError:  # another worker on this data dir made it first
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError("cannot read or create the state key", path=str(path)) from exc


class ChangelogTopic(Protocol):
    """The part of a Faust topic this module uses."""

    def get_topic_name(self) -> str: ...


class ChangelogTable(Protocol):
    """The part of a Faust table this module uses."""

    @property
    def data(self) -> Mapping[str, Any]: ...

    @property
    def changelog_topic(self) -> ChangelogTopic: ...

    key_serializer: Any
    value_serializer: Any


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
        serializers = (table.key_serializer, table.value_serializer)
        if serializers != ("json", "json"):
            raise ConfigError(
                "detector state needs a table with JSON keys and values",
                serializers=serializers,
            )
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
    ) -> list[tuple[str, bytes]]:
        """Changelog entries, as of now, for the named users (tagged with their partition)
        and every tool fingerprint changed since the last snapshot: keys, and values
        already serialized, because the worker goes on changing the live state while the
        entries wait for their batch's output to be acknowledged (see :meth:`messages`).
        """
        entries: list[tuple[str, bytes]] = []
        for user in users:
            state = self.users.get(user)
            if state is not None:
                state[PARTITION_FIELD] = partition_of.get(user, state.get(PARTITION_FIELD, -1))
                entries.append((user, orjson.dumps(state)))
        entries += [(TOOL_PREFIX + k, orjson.dumps(self.tools[k])) for k in self.tools.changed]
        self.tools.changed.clear()
        return entries

    @property
    def topic(self) -> str:
        """The changelog topic (one partition: a GlobalTable's)."""
        return self.table.changelog_topic.get_topic_name()

    def messages(self, entries: Iterable[tuple[str, bytes]]) -> list[OutMessage]:
        """Entries from :meth:`snapshot` as changelog messages."""
        return [OutMessage(orjson.dumps(key), value) for key, value in entries]
