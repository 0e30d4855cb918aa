"""Inserts Avro container files into a table, letting ClickHouse decode and flatten them.

Lifecycle: one :class:`AvroWriter` per sink process, over one client. ``write``
either stores every row of the call or none (one INSERT, one block, one
deduplication token), and raises:

* :class:`StoreUnavailableError` when ClickHouse cannot take it now (retry later);
* :class:`BatchRejectedError` when ClickHouse refused the content (retrying the
  same rows cannot help; :mod:`sinks.salvage` finds the bad ones).

Embedded chDB reads the files from a private scratch directory with ``file()``
(several files are decoded in parallel); a server gets the Avro as the body of
``INSERT ... SELECT ... FROM input()``. The SELECT is the same either way.
The scratch directory lives under chDB's data directory (:func:`scratch_dir`).
chDB has no way to take an INSERT's body from Python, hence the files; they
land in the page cache, and a file given as buffers is written with
``writev``, which copies without holding the GIL (a join first cost 3x, with it).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from typing import TypeAlias

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from sinks.clickhouse import embedded_path, is_embedded
from sinks.errors import BatchRejectedError, StoreUnavailableError
from sinks.tables import HASH_COLUMNS, TableSpec, held, sql_string

# ClickHouse error codes that mean "this data is bad", not "try again later".
REJECTION_CODES = frozenset(
    {6, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349, 376, 407, 691}
)
_CODE = re.compile(r"Code: (\d+)\.")
SCRATCH = "mcp-audit-scratch"
# Scratch directories this process made: any other one under a data directory
# this process holds open is left by a dead process.
_OWN: set[str] = set()
_OWN_LOCK = threading.Lock()
_IOV_MAX = os.sysconf("SC_IOV_MAX")
# One Avro container file: its bytes, or the buffers that make it up in order.
AvroFile: TypeAlias = bytes | list[bytes]


def insert_settings(token: str, parse_threads: int) -> dict[str, str | int]:
    """Settings of every batch insert; the token makes a retried batch a no-op."""
    return {
        "insert_deduplicate": 1,
        "insert_deduplication_token": token,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        "input_format_avro_null_as_default": 1,
        "input_format_avro_allow_missing_fields": 1,
        "max_threads": parse_threads,
        # One insert thread squashes the batch into one block: one token, all or nothing.
        "max_insert_threads": 1,
        # Replacing on insert cost 4x the write (measured); FINAL and merges replace anyway.
        "optimize_on_insert": 0,
    }


def insert_sql(spec: TableSpec, source: str) -> str:
    """The batch's INSERT: columns, then the row hashes over the values as they arrived,
    then erasure of already erased subjects and the legal hold (neither is hashed)."""
    return (
        f"INSERT INTO {spec.target} ({spec.column_list()}, {', '.join(HASH_COLUMNS)}, legal_hold)\n"
        f"SELECT * EXCEPT (stable_hash){spec.erase_replace()}, {held(spec.time_column)}\n"
        f"FROM (SELECT *, {spec.content_hash_sql('stable_hash')} AS content_hash\n"
        f"FROM (SELECT *, {spec.stable_hash_sql()} AS stable_hash\n"
        f"FROM (SELECT *, {spec.personal_hash_sql()} AS personal_hash\n"
        f"FROM (SELECT\n    {spec.select_list()}\nFROM {source}))))"
    )


class AvroWriter:
    def __init__(self, client: Client, url: str, parse_threads: int = 2) -> None:
        self.client = client
        self.parse_threads = parse_threads
        self._embedded = is_embedded(url)
        self._scratch = scratch_dir(url) if self._embedded else ""
        self._calls = itertools.count()

    def write(self, spec: TableSpec, files: Sequence[AvroFile], token: str) -> None:
        if not files:
            return
        settings = insert_settings(token, self.parse_threads)
        try:
            if self._embedded:
                self._write_embedded(spec, files, settings)
            else:
                self._write_server(spec, files, settings)
        except DatabaseError as exc:
            raise classify(exc, table=spec.table, token=token) from exc
        except Exception as exc:
            raise StoreUnavailableError(
                "ClickHouse did not take the batch", table=spec.table, error=str(exc)[:300]
            ) from exc

    def _write_embedded(
        self, spec: TableSpec, files: Sequence[AvroFile], settings: dict[str, str | int]
    ) -> None:
        prefix = os.path.join(self._scratch, f"{next(self._calls)}_")
        paths = [f"{prefix}{index}.avro" for index in range(len(files))]
        try:
            for path, data in zip(paths, files, strict=True):
                write_file(path, _buffers(data))
            pattern = sql_string(f"{prefix}*.avro")
            source = f"file({pattern}, 'Avro', {sql_string(spec.structure_sql())})"
            self.client.command(insert_sql(spec, source), settings=settings)
        finally:
            for path in paths:
                if os.path.exists(path):
                    os.unlink(path)

    def _write_server(
        self, spec: TableSpec, files: Sequence[AvroFile], settings: dict[str, str | int]
    ) -> None:
        # One file per INSERT: an OCF has one header, so files cannot share a body.
        source = f"input({sql_string(spec.structure_sql())})"
        token = str(settings["insert_deduplication_token"])
        for index, data in enumerate(files):
            part_settings = {**settings, "insert_deduplication_token": f"{token}#{index}"}
            self.client.command(
                insert_sql(spec, source) + "\nFORMAT Avro",
                data=b"".join(_buffers(data)),
                settings=part_settings,
            )

    def close(self) -> None:
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            with _OWN_LOCK:
                _OWN.discard(self._scratch)


def _buffers(data: AvroFile) -> list[bytes]:
    return [data] if isinstance(data, bytes) else data


def write_file(path: str, buffers: list[bytes]) -> None:
    """A new file (0600) holding ``buffers`` back to back."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for start in range(0, len(buffers), _IOV_MAX):
            chunk = buffers[start : start + _IOV_MAX]
            written = os.writev(fd, chunk)
            if written < sum(map(len, chunk)):  # a short write (rare on files)
                _write_rest(fd, b"".join(chunk)[written:])
    finally:
        os.close(fd)


def _write_rest(fd: int, rest: bytes) -> None:
    while rest:
        rest = rest[os.write(fd, rest) :]


def scratch_dir(url: str) -> str:
    """A new private directory for the Avro files of ``url``'s inserts.

    The files hold whole audit rows, and a sink killed mid-insert leaves them
    behind: under /tmp they would outlive retention and erasure, so they stay
    with the data, in ``<data dir>/mcp-audit-scratch/``. chDB locks its data
    directory to one process, and the caller holds it open (a writer is built on
    a connected client), so every other directory there is a dead process's:
    removed here.
    """
    path = embedded_path(url)
    if path == ":memory:":
        return tempfile.mkdtemp(prefix="mcp-audit-sink-")
    root = os.path.join(path, SCRATCH)
    os.makedirs(root, mode=0o700, exist_ok=True)
    with _OWN_LOCK:
        for name in os.listdir(root):
            left = os.path.join(root, name)
            if left not in _OWN:
                shutil.rmtree(left, ignore_errors=True)
        made = tempfile.mkdtemp(dir=root)
        _OWN.add(made)
    return made


def classify(exc: DatabaseError, **fields: str) -> BatchRejectedError | StoreUnavailableError:
    """Content errors are rejections; everything else may pass and is retried."""
    match = _CODE.search(str(exc))
    code = int(match[1]) if match else None
    message = str(exc).split("\n", 1)[0][:500]
    if code in REJECTION_CODES:
        return BatchRejectedError("ClickHouse refused rows", code=code, error=message, **fields)
    return StoreUnavailableError("ClickHouse failed the insert", code=code, error=message, **fields)
