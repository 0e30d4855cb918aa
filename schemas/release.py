"""Snapshot the current schemas into ``schemas/avro/released/`` (run before a release).

Usage: ``python -m schemas.release``. Each snapshot is named
``<Record>.<fingerprint>.avsc``; an existing snapshot is left as it is.
"""

from __future__ import annotations

import json

from schemas.registry import RECORD_NAMES, RELEASED_DIR, current


def snapshot_all() -> list[str]:
    RELEASED_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for record in RECORD_NAMES:
        writer = current(record)
        path = RELEASED_DIR / f"{record}.{writer.fingerprint_hex}.avsc"
        if not path.exists():
            path.write_text(json.dumps(writer.schema, indent=2) + "\n")
            written.append(path.name)
    return written


if __name__ == "__main__":
    for name in snapshot_all():
        print(f"released {name}")
