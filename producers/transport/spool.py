"""The durable local spool: events the broker could not take yet, kept on disk in order.

Layout: ``<spool_dir>/slot-N/`` is owned by one process at a time (an
exclusive ``flock``; a crashed owner's slot is free again, so the next process
replays it). A slot holds numbered segment files of records
``len(key) len(value) key value crc32`` (big-endian u32s). Writes append to the
active segment; :meth:`Spool.rotate` closes it so a reader may take it.
A torn record at a segment's tail (a crash mid-write) ends that segment.

Not thread-safe: one I/O thread owns a Spool. Size is bounded: :meth:`append`
refuses (returns False) past ``max_bytes``.
"""

from __future__ import annotations

import fcntl
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from producers.errors import SpoolError

_HEAD = struct.Struct(">II")
_CRC = struct.Struct(">I")
_SEGMENT_BYTES = 16 * 2**20


def _claim_slot(root: Path) -> tuple[Path, int]:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)  # events may hold personal data
    for index in range(1024):
        slot = root / f"slot-{index}"
        slot.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(slot / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return slot, fd
        except BlockingIOError:
            os.close(fd)
    raise SpoolError("no free spool slot", root=str(root))


class Spool:
    def __init__(self, root: Path, *, max_bytes: int, fsync: str = "interval") -> None:
        try:
            self.dir, self._lock_fd = _claim_slot(root)
        except OSError as exc:
            raise SpoolError("cannot open the spool", root=str(root)) from exc
        self.max_bytes = max_bytes
        self.fsync_always = fsync == "always"
        self.fsync_enabled = fsync != "never"
        self._active: BinaryIO | None = None
        self._active_path: Path | None = None
        self.bytes = sum(p.stat().st_size for p in self.segments())
        self._dirty = False

    def segments(self) -> list[Path]:
        """Closed segments, oldest first (the active one is excluded)."""
        found = sorted(self.dir.glob("*.seg"))
        return [p for p in found if p != self._active_path]

    def _next_path(self) -> Path:
        existing = sorted(self.dir.glob("*.seg"))
        number = int(existing[-1].stem) + 1 if existing else 1
        return self.dir / f"{number:012d}.seg"

    def append(self, key: bytes | None, value: bytes) -> bool:
        """Write one record; False when the spool is full (the caller counts a drop)."""
        key = key or b""
        size = _HEAD.size + len(key) + len(value) + _CRC.size
        if self.bytes + size > self.max_bytes:
            return False
        if self._active is None or self._active.tell() > _SEGMENT_BYTES:
            self.rotate()
            self._active_path = self._next_path()
            fd = os.open(self._active_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._active = os.fdopen(fd, "ab")
        body = _HEAD.pack(len(key), len(value)) + key + value
        self._active.write(body + _CRC.pack(zlib.crc32(body)))
        self.bytes += size
        self._dirty = True
        if self.fsync_always:
            self.sync()
        return True

    def sync(self) -> None:
        if self._active is not None and self._dirty:
            self._active.flush()
            if self.fsync_enabled:
                os.fsync(self._active.fileno())
            self._dirty = False

    def rotate(self) -> None:
        """Close the active segment so it becomes readable by :meth:`segments`."""
        if self._active is not None:
            self.sync()
            self._active.close()
            self._active, self._active_path = None, None

    def remove(self, segment: Path) -> None:
        size = segment.stat().st_size
        segment.unlink()
        self.bytes = max(0, self.bytes - size)

    def close(self) -> None:
        self.rotate()
        os.close(self._lock_fd)


def read_segment(path: Path) -> Iterator[tuple[bytes | None, bytes]]:
    """The records of a closed segment in write order; stops at a torn or corrupt tail."""
    data = path.read_bytes()
    position = 0
    while position + _HEAD.size <= len(data):
        key_len, value_len = _HEAD.unpack_from(data, position)
        end = position + _HEAD.size + key_len + value_len
        if end + _CRC.size > len(data):
            return
        (crc,) = _CRC.unpack_from(data, end)
        if crc != zlib.crc32(data[position:end]):
            return
        key = data[position + _HEAD.size : position + _HEAD.size + key_len]
        yield (key or None), data[end - value_len : end]
        position = end + _CRC.size
