"""The one door to the audit data: every people's read and operation passes a session.

Lifecycle: a process that owns the store builds one :class:`ReadSide` on it
(``mcp-audit up`` for the dashboard and the query endpoint; each command for
itself, through :func:`open_read_side`) and asks it for a
:class:`ReadSession` per authenticated operator. A session:

1. reads only on connections the engine keeps read-only and bounded
   (:mod:`readside.guard`), at most ``concurrency`` at once (one chDB
   connection serialises its queries, so each slot has its own);
2. refuses statements whose engine-parsed tree reaches files or services;
3. records every access, refused and failed ones included, as an
   AUDIT_ACCESS event (:mod:`readside.access`) *before* handing back any
   data, so an access that cannot be recorded shows nothing.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlencode

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from readside.access import Access, record_access
from readside.errors import BusyError, ReadSideError
from readside.guard import (
    check_read_only,
    engine_statement,
    explain_ast,
    file_functions,
    guarded_client,
    owner_settings,
    people_settings,
    refuse_file_access,
)
from readside.settings import ReadSettings
from readside.tokens import current_user
from sinks.clickhouse import embedded_path, is_embedded
from sinks.service import open_store
from sinks.settings import SinkSettings
from sinks.writer import AvroWriter

T = TypeVar("T")
_REFUSED_CODES = ("Code: 164.", "Code: 497.", "Code: 446.")  # READONLY, ACCESS_DENIED, python()
SLOT_WAIT_S = 2.0


class ReadSide:
    """The store's writer connection and a pool of guarded reader connections.

    ``limits`` None is the person at the machine running a command on the
    store's own files: read-only still, but no result caps (verify and the
    report read every row).
    """

    def __init__(
        self,
        store: Client,
        sink: SinkSettings,
        limits: ReadSettings | None = None,
        *,
        early_check: bool = True,
    ) -> None:
        self.store = store
        self.early_check = early_check  # the friendly checker; tests switch it off
        self.sink = sink
        self.limits = limits
        self.writer = AvroWriter(store, sink.clickhouse_url, 1)
        settings = people_settings(limits) if limits else owner_settings()
        self.engine_settings = settings
        slots = limits.concurrency if limits else 1
        self._readers: queue.Queue[Client] = queue.Queue()
        for _ in range(slots):
            self._readers.put(guarded_client(sink.clickhouse_url, sink.database, settings))
        with self.slot() as reader:
            self.denied = file_functions(reader)
        self._raw: queue.Queue[Any] = queue.Queue()
        self._raw_made = 0

    def session(self, operator: str, via: str) -> ReadSession:
        return ReadSession(self, operator, via)

    @contextlib.contextmanager
    def slot(self) -> Iterator[Client]:
        try:
            reader = self._readers.get(timeout=SLOT_WAIT_S)
        except queue.Empty as exc:
            raise BusyError("every read slot is busy; try again", reason="busy") from exc
        try:
            yield reader
        finally:
            self._readers.put(reader)

    @contextlib.contextmanager
    def raw_slot(self) -> Iterator[Any]:
        """A chDB connection with the same settings, for answers in a client's own format.

        chDB's result carries the rows it returned, which the access record needs;
        the clickhouse-connect facade does not hand them back for raw bytes.
        """
        if not is_embedded(self.sink.clickhouse_url):
            raise ReadSideError("raw answers serve the embedded store only", reason="not-embedded")
        with self.slot():  # the same concurrency cap
            try:
                conn = self._raw.get_nowait()
            except queue.Empty:
                conn = self._connect_raw()
            try:
                yield conn
            finally:
                self._raw.put(conn)

    def _connect_raw(self) -> Any:
        import chdb  # the embedded engine only

        options = {**self.engine_settings, "readonly": 1}  # readonly last: it locks the rest
        conn = chdb.connect(  # type: ignore[no-untyped-call]
            f"{embedded_path(self.sink.clickhouse_url)}?{urlencode(options)}"
        )
        conn.query(f"USE `{self.sink.database}`", "TabSeparated")
        return conn

    def close(self) -> None:
        while not self._readers.empty():
            self._readers.get_nowait().close()
        while not self._raw.empty():
            self._raw.get_nowait().close()
        self.writer.close()


class ReadSession:
    """One authenticated operator's use of the store; ``via`` says through which door."""

    def __init__(self, side: ReadSide, operator: str, via: str) -> None:
        self.side = side
        self.operator = operator
        self.via = via

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Columns and rows of one people's statement, recorded as action ``query``."""

        def run(reader: Client) -> tuple[list[str], list[tuple[Any, ...]]]:
            text, extra = engine_statement(self._checked(sql))
            bound = {**(parameters or {}), **extra}
            refuse_file_access(explain_ast(reader, text, bound), self.side.denied)
            result = reader.query(text, parameters=bound or None)
            return list(result.column_names), [tuple(row) for row in result.result_rows]

        return self.read("query", run, counted=lambda answer: len(answer[1]), sql=sql)

    def raw(self, sql: str, parameters: dict[str, str], fmt: str) -> bytes:
        """One people's statement answered in ``fmt`` bytes (the query endpoint)."""
        started = time.monotonic()
        try:
            text, extra = engine_statement(self._checked(sql))
            with self.side.raw_slot() as conn:
                bound = {**parameters, **extra}
                tree = _engine(conn, f"EXPLAIN AST {text}", "TabSeparatedRaw", bound).bytes()
                refuse_file_access(tree.decode("utf-8", "replace"), self.side.denied)
                result = _engine(conn, text, fmt, bound)
                body, rows = result.bytes() or b"", int(result.rows_read())
        except Exception as exc:
            self._record_failure("query", exc, started, {"sql": sql, "format": fmt})
            raise
        self._record(Access(self.operator, "query", self._detail(sql=sql, format=fmt),
                            rows=rows, duration_us=_since(started)))  # fmt: skip
        return body

    def read(
        self,
        action: str,
        fn: Callable[[Client], T],
        counted: Callable[[T], int] | None = None,
        **detail: str,
    ) -> T:
        """``fn(reader)`` on a guarded read-only connection, recorded as ``action``."""
        started = time.monotonic()
        try:
            with self.side.slot() as reader:
                answer = fn(reader)
        except Exception as exc:
            self._record_failure(action, exc, started, detail)
            raise
        rows = counted(answer) if counted else _count(answer)
        self._record(Access(self.operator, action, self._detail(**detail), rows=rows,
                            duration_us=_since(started)))  # fmt: skip
        return answer

    def operate(self, action: str, fn: Callable[[Client], T], **detail: str) -> T:
        """``fn(store)`` on the writing connection (erase, holds, sealing), recorded first.

        An operation changes the store, so it is recorded before it runs: if the
        record cannot be stored, nothing changes.
        """
        self._record(Access(self.operator, action, self._detail(**detail)))
        return fn(self.side.store)

    def refused(self, action: str, exc: Exception, **detail: str) -> None:
        """Record a request refused at a door before it reached the session."""
        self._record_failure(action, exc, time.monotonic(), detail)

    def _checked(self, sql: str) -> str:
        return check_read_only(sql) if self.side.early_check else sql.strip()

    def _detail(self, **detail: str) -> dict[str, str]:
        return {**detail, "via": self.via}

    def _record_failure(
        self, action: str, exc: Exception, started: float, detail: dict[str, str]
    ) -> None:
        refused = isinstance(exc, ReadSideError) or (
            isinstance(exc, DatabaseError) and str(exc).startswith(_REFUSED_CODES)
        )
        reason = str(getattr(exc, "fields", {}).get("reason", "")) or type(exc).__name__
        self._record(Access(self.operator, action, self._detail(**detail, reason=reason),
                            outcome="DENIED" if refused else "ERROR",
                            duration_us=_since(started)))  # fmt: skip

    def _record(self, access: Access) -> None:
        record_access(self.side.writer, access)


def _engine(conn: Any, sql: str, fmt: str, params: dict[str, str]) -> Any:
    """chDB's answer; its errors become the client library's, as on every other path."""
    try:
        return conn.query(sql, fmt, params=params)
    except RuntimeError as exc:  # chdb's ChdbError
        raise DatabaseError(str(exc)) from exc


def _count(answer: Any) -> int:
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[1], list):
        return len(answer[1])
    return len(answer) if isinstance(answer, list) else 0


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1_000_000)


@contextlib.contextmanager
def open_read_side(sink: SinkSettings) -> Iterator[ReadSession]:
    """The store opened (migrations applied) for a command run by the person at the machine.

    The operator is the operating-system user: whoever can run this can read
    the store's files anyway; the session still records what they did.
    """
    store = open_store(sink)
    side = ReadSide(store, sink)
    try:
        yield side.session(current_user(), via="cli")
    finally:
        side.close()
        store.close()
