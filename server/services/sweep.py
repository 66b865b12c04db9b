"""At start: index the blobs that no row references, or remove them.

A blob is written (and synced) before its row is committed, and rows are committed
without syncing the SQLite WAL (``synchronous=NORMAL``). So after a killed process or a
power cut, a blob may have no row: either its request was never answered (the blob may
still be ``<key>.part``, cut off while arriving: deleted), or the commit was rolled back
by the power cut after the answer. Every complete blob without a row is inspected again:
a valid instance is indexed (the acknowledged one comes back; an unanswered one is simply
stored, as a retry would have done), anything else is deleted. Such blobs can only be in
hour folders written since the previous start; that hour is in ``<data_dir>/sweep-from``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select

from server.db.models import instances
from server.services.ingest import Ingestor
from server.storage.local import LocalBlobStore

MARKER = "sweep-from"
_BATCH = 200


@dataclass(frozen=True)
class Recovery:
    """What the start-up sweep did."""

    indexed: int
    removed: int


def unreferenced_blobs(engine: Engine, store: LocalBlobStore, since: str) -> list[str]:
    """Keys of complete blobs in hour folders from ``since`` (``YYYY/MM/DD/HH``) without a
    row; blobs never completed (``.part``) there are deleted on the way."""
    loose: list[str] = []
    for folder in store.hour_folders():
        if folder < since:
            continue
        store.remove_partial(folder)  # cut off while arriving: never answered
        keys = store.keys_in(folder)
        referenced: set[str] = set()
        with engine.connect() as conn:
            for i in range(0, len(keys), 500):
                referenced.update(conn.execute(
                    select(instances.c.blob).where(instances.c.blob.in_(keys[i:i + 500]))
                ).scalars())
        loose.extend(k for k in keys if k not in referenced)
    return loose


def recover_blobs(ingestor: Ingestor, engine: Engine, store: LocalBlobStore, data_dir: Path
                  ) -> Recovery:
    """Index or remove every unreferenced blob since the previous start.

    Run it once at start, before any request is served.
    """
    marker = data_dir / MARKER
    since = marker.read_text().strip() if marker.exists() else ""
    loose = unreferenced_blobs(engine, store, since)
    indexed = 0
    for i in range(0, len(loose), _BATCH):
        outcomes = ingestor.finish([ingestor.adopt(key) for key in loose[i:i + _BATCH]])
        indexed += sum(1 for o in outcomes if o.ok and not o.warning)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(f"{datetime.now(UTC):%Y/%m/%d/%H}\n")
    os.replace(tmp, marker)
    return Recovery(indexed=indexed, removed=len(loose) - indexed)
