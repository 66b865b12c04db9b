"""Physicians' signing keys, encrypted at rest, and two kinds of rotation.

Each physician has Ed25519 key pairs. The private key is stored only *sealed*: encrypted
with AES-256-GCM under a master key (a key-encryption key, KEK), with the key's id and
owner as associated data, so a sealed key copied to another owner does not open.
The master keys live in a key ring file outside the index (mode 0600); the index holds
sealed keys and public keys only.

- *Signing-key rotation* gives a physician a new key pair and retires the old one: the
  old public key stays registered, so earlier signatures still verify.
- *Master-key rotation* adds a new KEK and re-seals every private key under it
  (:meth:`MasterKeys.reseal`); the private keys, hence all signatures, are unchanged,
  and the old KEK can then be dropped (:meth:`MasterKeys.without`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from workbench.errors import WorkbenchError
from workbench.reports.signing import key_id, public_bytes

__all__ = ["MasterKeys", "SealedKey", "new_signing_key"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class SealedKey:
    """A private key encrypted under master key ``kek_id``."""

    kek_id: str
    nonce: str
    ciphertext: str

    def to_json(self) -> str:
        """JSON text (what the index stores)."""
        return json.dumps({"kek": self.kek_id, "nonce": self.nonce, "ct": self.ciphertext})

    @classmethod
    def from_json(cls, text: str) -> SealedKey:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(str(data["kek"]), str(data["nonce"]), str(data["ct"]))


def new_signing_key() -> tuple[Ed25519PrivateKey, str, bytes]:
    """A fresh key pair: the private key, its id and the raw public key."""
    private = Ed25519PrivateKey.generate()
    raw = public_bytes(private.public_key())
    return private, key_id(raw), raw


class MasterKeys:
    """A key ring of 32-byte AES keys by id; new keys are sealed under ``current``.

    Parameters
    ----------
    keys
        Master keys by id.
    current
        The id sealing new keys.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"the current master key {current!r} is not in the key ring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"master key {kid!r} must be 32 bytes")
        self.keys = dict(keys)
        self.current = current

    @classmethod
    def generate(cls) -> MasterKeys:
        """A key ring with one new random key."""
        kid = secrets.token_hex(4)
        return cls({kid: secrets.token_bytes(32)}, kid)

    @classmethod
    def load(cls, path: Path) -> MasterKeys:
        """Read a key ring file (JSON: ``current`` and base64 ``keys``)."""
        data = json.loads(path.read_text())
        return cls({k: base64.b64decode(v) for k, v in data["keys"].items()}, data["current"])

    @classmethod
    def load_or_create(cls, path: Path) -> MasterKeys:
        """Read `path`, or create it (mode 0600) with a new key ring.

        Several server processes may start at once: the new ring is written aside and
        linked into place, which fails if another process was first; its ring is used.
        """
        if path.exists():
            return cls.load(path)
        ring = cls.generate()
        aside = path.with_name(f"{path.name}.{os.getpid()}.new")
        ring.save(aside)
        try:
            os.link(aside, path)
        except FileExistsError:
            return cls.load(path)
        finally:
            aside.unlink()
        return ring

    def save(self, path: Path) -> None:
        """Write the key ring atomically, readable by the owner only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"current": self.current,
                       "keys": {k: _b64(v) for k, v in self.keys.items()}}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def rotated(self) -> MasterKeys:
        """A key ring with a new current key (the old ones kept for unsealing)."""
        kid = secrets.token_hex(4)
        while kid in self.keys:
            kid = secrets.token_hex(4)
        return MasterKeys({**self.keys, kid: secrets.token_bytes(32)}, kid)

    def without(self, unused: Iterable[str]) -> MasterKeys:
        """The key ring less the keys `unused` (never the current one)."""
        drop = set(unused) - {self.current}
        return MasterKeys({k: v for k, v in self.keys.items() if k not in drop}, self.current)

    def seal(self, key: Ed25519PrivateKey, context: str) -> SealedKey:
        """Encrypt `key` under the current master key; `context` (key id and owner) must
        be given again to unseal."""
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        nonce = secrets.token_bytes(12)
        ciphertext = AESGCM(self.keys[self.current]).encrypt(nonce, raw, context.encode())
        return SealedKey(self.current, _b64(nonce), _b64(ciphertext))

    def unseal(self, sealed: SealedKey, context: str) -> Ed25519PrivateKey:
        """Decrypt a sealed key.

        Raises
        ------
        WorkbenchError
            The master key is not in the ring, or the key was altered or sealed for
            another context.
        """
        master = self.keys.get(sealed.kek_id)
        if master is None:
            raise WorkbenchError(f"master key {sealed.kek_id!r} is not in the key ring")
        try:
            raw = AESGCM(master).decrypt(base64.b64decode(sealed.nonce),
                                         base64.b64decode(sealed.ciphertext), context.encode())
        except InvalidTag:
            raise WorkbenchError("a sealed signing key does not open: it was altered or "
                                 "belongs to another key or owner") from None
        return Ed25519PrivateKey.from_private_bytes(raw)

    def reseal(self, sealed: SealedKey, context: str) -> SealedKey:
        """Re-encrypt a sealed key under the current master key (same private key)."""
        if sealed.kek_id == self.current:
            return sealed
        return self.seal(self.unseal(sealed, context), context)
