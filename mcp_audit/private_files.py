"""Files the pipeline writes for its operator only (logs may name topics, peers and paths)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO


def open_private_append(path: Path) -> BinaryIO:
    """Open ``path`` for appending, creating it readable and writable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "ab")


def ensure_hex_key(path: Path) -> Path:
    """``path`` holding a random 32-byte key as hex, made once (directory 0700, file 0600)
    and kept afterwards: the keys ``up`` makes for its own parts."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        with open_private_append(path) as out:
            out.write(secrets.token_hex(32).encode())
    return path
