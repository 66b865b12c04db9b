"""Physicians' signing keys in the index, sealed under the master key ring.

Each reading physician gets an Ed25519 key pair at the first signature; the private key
is stored sealed (``workbench.reports.keys``) with ``"<key id>:<user pk>"`` as context.
Rotating a physician's key retires it (kept for verification) and makes a new one.
Rotating the master key re-seals every private key under a new ring key
(:func:`rotate_master_key`), leaving signatures untouched. Server processes reload the
ring file when it changes on disk.
"""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, insert, select, update

from server.db.engine import write_transaction
from server.db.reports import signing_keys
from workbench.reports.keys import MasterKeys, SealedKey, new_signing_key


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _context(key_id: str, user_pk: int) -> str:
    return f"{key_id}:{user_pk}"


class SigningKeys:
    """Signing keys of the physicians, sealed under the key ring at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ring = MasterKeys.load_or_create(path)
        self._stamp = path.stat().st_mtime_ns

    def ring(self) -> MasterKeys:
        """The key ring, read again when the file changed (a rotation by the CLI)."""
        with self._lock:
            stamp = self.path.stat().st_mtime_ns
            if stamp != self._stamp:
                self._ring, self._stamp = MasterKeys.load(self.path), stamp
            return self._ring

    def active(self, conn: Connection, user_pk: int) -> tuple[Ed25519PrivateKey, str]:
        """The physician's current private key and its id (a new pair at first use)."""
        row = conn.execute(select(signing_keys).where(
            signing_keys.c.user_pk == user_pk, signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.pk.desc()).limit(1)).first()
        if row is None:
            return self._create(conn, user_pk)
        sealed = SealedKey.from_json(row.sealed)
        return self.ring().unseal(sealed, _context(row.key_id, user_pk)), str(row.key_id)

    def _create(self, conn: Connection, user_pk: int) -> tuple[Ed25519PrivateKey, str]:
        private, key_id, raw = new_signing_key()
        sealed = self.ring().seal(private, _context(key_id, user_pk))
        conn.execute(insert(signing_keys).values(
            key_id=key_id, user_pk=user_pk, public_key=base64.b64encode(raw).decode(),
            sealed=sealed.to_json(), created_at=_now()))
        return private, key_id

    def rotate(self, conn: Connection, user_pk: int) -> str:
        """Retire the physician's current key and make a new one; return the new id."""
        conn.execute(update(signing_keys).where(
            signing_keys.c.user_pk == user_pk, signing_keys.c.retired_at.is_(None))
            .values(retired_at=_now()))
        return self._create(conn, user_pk)[1]


def trusted_keys(conn: Connection, key_ids: set[str]) -> dict[str, tuple[bytes, int]]:
    """Registered public keys (retired ones too) by id, with their owner's user pk."""
    if not key_ids:
        return {}
    rows = conn.execute(select(signing_keys.c.key_id, signing_keys.c.public_key,
                               signing_keys.c.user_pk)
                        .where(signing_keys.c.key_id.in_(sorted(key_ids)))).fetchall()
    return {r.key_id: (base64.b64decode(r.public_key), int(r.user_pk)) for r in rows}


def key_listing(conn: Connection, user_pk: int) -> list[dict[str, object]]:
    """A physician's keys, newest first (ids, public keys, dates; never private keys)."""
    rows = conn.execute(select(signing_keys).where(signing_keys.c.user_pk == user_pk)
                        .order_by(signing_keys.c.pk.desc())).fetchall()
    return [{"key_id": r.key_id, "public_key": r.public_key,
             "created_at": r.created_at.isoformat() + "Z",
             "retired_at": None if r.retired_at is None else r.retired_at.isoformat() + "Z"}
            for r in rows]


def rotate_master_key(engine: Engine, path: Path) -> int:
    """Add a new master key, re-seal every signing key under it, drop the old keys.

    The ring with both keys is written first, so a crash in between leaves every sealed
    key openable. Returns how many keys were re-sealed.
    """
    ring = MasterKeys.load_or_create(path)
    rotated = ring.rotated()
    rotated.save(path)
    count = 0
    with write_transaction(engine, durable=True) as conn:
        for row in conn.execute(select(signing_keys)).fetchall():
            sealed = SealedKey.from_json(row.sealed)
            resealed = rotated.reseal(sealed, _context(row.key_id, int(row.user_pk)))
            if resealed != sealed:
                conn.execute(update(signing_keys).where(signing_keys.c.pk == row.pk)
                             .values(sealed=resealed.to_json()))
                count += 1
    rotated.without(ring.keys).save(path)
    return count
