"""The tree-head signing key, kept apart from the store.

Whoever can write the store must not be able to re-sign it: the key lives in a
directory of its own (``MCP_AUDIT_SINK_SIGNING_KEY_DIR``), created 0700 with the
key 0600, and :func:`key_dir` refuses one that others can read or write or that
lies inside (or contains) the embedded store's directory. :class:`FileSigner` is
the file-key :class:`~schemas.digest.Signer`; a KMS or HSM client is another.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.digest import DigestError, key_id_of
from sinks.clickhouse import embedded_path, is_embedded

KEY_NAME = "tree-head-key.pem"
PUBLIC_NAME = "tree-head-key.pub"


def key_dir(path: Path, store_url: str, data_dir: Path | None = None) -> Path:
    """``path`` created 0700 if absent; refused if it is open to others, or if it and the
    embedded store's directory (or the pipeline's ``data_dir``) lie one inside the other."""
    path = path.resolve()
    apart = [Path(embedded_path(store_url)).resolve()] if is_embedded(store_url) else []
    apart += [data_dir.resolve()] if data_dir is not None else []
    for other in apart:
        if path == other or other in path.parents or path in other.parents:
            raise DigestError(
                "the signing key directory must lie outside the store's data directory",
                key_dir=str(path), store=str(other),
            )  # fmt: skip
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise DigestError(
            "the signing key directory is open to other users; chmod 700 it",
            key_dir=str(path), mode=oct(mode),
        )  # fmt: skip
    return path


class FileSigner:
    """An Ed25519 key in ``directory``; made (0600, public half beside it) if absent."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / KEY_NAME
        if self.path.exists():
            mode = stat.S_IMODE(self.path.stat().st_mode)
            if mode & 0o077:
                raise DigestError("the signing key is open to other users", mode=oct(mode))
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise DigestError("the signing key is not an Ed25519 key", path=str(self.path))
        else:
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
        self._key = key
        self.public_path = directory / PUBLIC_NAME
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if not self.public_path.exists():
            self.public_path.write_bytes(public)
        self._key_id = key_id_of(key.public_key())

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise DigestError("cannot read the public key", path=str(path)) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise DigestError("the public key is not an Ed25519 key", path=str(path))
    return key
