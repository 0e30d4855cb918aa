"""The spool keeps records in order across reopen, stops at a torn tail, and respects its bound."""

from __future__ import annotations

from pathlib import Path

from producers.transport.spool import Spool, read_segment


def _all(spool: Spool) -> list[tuple[bytes | None, bytes]]:
    return [record for seg in spool.segments() for record in read_segment(seg)]


def test_records_survive_reopen_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000, fsync="always")
    records = [(f"k{i}".encode(), f"value-{i}".encode() * 3) for i in range(50)]
    for key, value in records:
        assert spool.append(key, value)
    spool.close()
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in spool.segments())  # personal data
    reopened = Spool(tmp_path, max_bytes=10_000)
    assert reopened.dir == spool.dir  # the crashed owner's slot is free again
    assert _all(reopened) == records
    assert reopened.bytes > 0
    reopened.close()


def test_second_owner_gets_another_slot(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=1000)
    second = Spool(tmp_path, max_bytes=1000)
    assert first.dir != second.dir
    first.close()
    second.close()


def test_torn_tail_ends_the_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    spool.append(None, b"complete")
    spool.append(b"k", b"torn-record")
    spool.close()
    (segment,) = spool.segments()
    segment.write_bytes(segment.read_bytes()[:-3])
    assert list(read_segment(segment)) == [(None, b"complete")]


def test_full_spool_refuses(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    assert spool.append(None, b"x" * 50)
    assert not spool.append(None, b"x" * 50)
    spool.close()
