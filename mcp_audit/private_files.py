"""Files the pipeline writes for its operator only (logs may name topics, peers and paths)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


def open_private_append(path: Path) -> BinaryIO:
    """Open ``path`` for appending, creating it readable and writable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "ab")
