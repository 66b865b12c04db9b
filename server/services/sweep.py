"""Removing blobs that no index row references (left by a killed process).

A blob is written before its row is committed, so a process killed in between leaves a
file nobody references. Such files can only be in hour folders written since the
process started; the start hour is recorded in ``<data_dir>/sweep-from`` and the next
start looks there (and later) only.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select

from server.db.models import instances
from server.storage.local import LocalBlobStore

MARKER = "sweep-from"
_BATCH = 500


def sweep_orphans(engine: Engine, store: LocalBlobStore, data_dir: Path) -> int:
    """Delete unreferenced blobs in the hour folders since the last start; return how many.

    Run it once at start, before any request is served.
    """
    marker = data_dir / MARKER
    start = marker.read_text().strip() if marker.exists() else ""
    removed = 0
    for folder in store.hour_folders():
        if folder < start:
            continue
        keys = store.keys_in(folder)
        referenced: set[str] = set()
        with engine.connect() as conn:
            for i in range(0, len(keys), _BATCH):
                chunk = keys[i:i + _BATCH]
                referenced.update(conn.execute(
                    select(instances.c.blob).where(instances.c.blob.in_(chunk))).scalars())
        for key in keys:
            if key not in referenced:
                store.delete(key)
                removed += 1
    now = datetime.now(UTC)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(f"{now:%Y/%m/%d/%H}\n")
    os.replace(tmp, marker)
    return removed
