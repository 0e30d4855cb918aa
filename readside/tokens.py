"""Operators' credentials: a random token each, kept in a 0600 file, compared in constant time.

The file maps operator names to tokens (JSON). ``up`` creates it at first
start with one token for the user running it, and prints the dashboard link
carrying that token; ``mcp-audit token --rotate`` replaces a token (the old
one stops working at once for a running ``up``, which rereads the file when
it changes). The operator an access is recorded under is the one the token
names, never a name the client sends.
"""

from __future__ import annotations

import getpass
import hmac
import json
import os
import secrets
from pathlib import Path

from readside.errors import NotAuthenticatedError
from schemas.errors import ConfigError

TOKEN_BYTES = 32


def current_user() -> str:
    """The operating-system user running this process: who a direct store access is."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class Tokens:
    """The token file: load, create, rotate, and authenticate a presented token."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[float, int] | None = None
        self._tokens: dict[str, str] = {}

    def ensure(self, operator: str | None = None) -> str:
        """The token of ``operator`` (default: this user), created with the file if missing."""
        name = operator or current_user()
        tokens = self._read() if self.path.exists() else {}
        if name not in tokens:
            tokens[name] = new_token()
            self._write(tokens)
        return tokens[name]

    def rotate(self, operator: str | None = None) -> str:
        name = operator or current_user()
        tokens = self._read() if self.path.exists() else {}
        tokens[name] = new_token()
        self._write(tokens)
        return tokens[name]

    def own_token(self) -> str:
        """This user's token, to present to a running door (never creates one)."""
        name = current_user()
        token = self._read().get(name) if self.path.exists() else None
        if token is None:
            raise NotAuthenticatedError(
                "no read token for this user; ask the operator running up for one",
                reason="no-token", operator=name, path=str(self.path),
            )  # fmt: skip
        return token

    def operator(self, presented: str) -> str:
        """The operator whose token was presented, or :class:`NotAuthenticatedError`."""
        found = None
        for name, token in self._current().items():  # no early exit: constant time per token
            if hmac.compare_digest(token.encode(), presented.encode()):
                found = name
        if found is None:
            raise NotAuthenticatedError("a valid read token is required", reason="bad-token")
        return found

    def _current(self) -> dict[str, str]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        if self._seen != (stat.st_mtime, stat.st_size):
            self._tokens, self._seen = self._read(), (stat.st_mtime, stat.st_size)
        return self._tokens

    def _read(self) -> dict[str, str]:
        try:
            loaded = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError("the read token file cannot be read", path=str(self.path)) from exc
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) >= 16 for k, v in loaded.items()
        ):
            raise ConfigError(
                "the read token file must map operator names to tokens", path=str(self.path)
            )
        return loaded

    def _write(self, tokens: dict[str, str]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(tokens, out, indent=1, sort_keys=True)
        os.replace(scratch, self.path)
