"""Blob store on a local folder, written so that a killed process loses nothing acknowledged.

Layout: ``<root>/<YYYY>/<MM>/<DD>/<HH>/<uuid>[.<tag>].dcm`` (UTC hour of arrival). Every stored
version of an instance gets a new, unique name, so a blob is never overwritten in place:
replacing an instance writes a new file, commits the index, and only then removes the old
one. A name is chosen before the header is parsed, which lets the write and its fsync run
while another thread parses the header (see ``server/services/ingest.py``).

Durability: files are written as they arrive, then a batch is made durable together
(``fdatasync`` of each file, ``fsync`` of each folder); only then may the index reference
them. Files that a killed process wrote but never indexed
have no index row; ``server.services.sweep`` removes them at the next start.
"""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """Blobs in a local folder, addressed by keys (paths relative to ``root``).

    Parameters
    ----------
    root
        The folder; created if missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._made: set[Path] = set()
        self._lock = threading.Lock()
        self._folders = ThreadPoolExecutor(2, thread_name_prefix="blob-folder-sync")

    @staticmethod
    def new_key(now: datetime | None = None, tag: str = "", suffix: str = ".dcm") -> str:
        """A fresh, unique blob key in the folder of the current UTC hour.

        ``tag`` (letters and digits) is kept in the name: ``<uuid>.<tag><suffix>``.
        """
        moment = now or datetime.now(UTC)
        ending = f".{tag}{suffix}" if tag else suffix
        return f"{moment:%Y/%m/%d/%H}/{uuid.uuid4().hex}{ending}"

    def path(self, key: str) -> Path:
        """Absolute path of a blob key."""
        return self.root / key

    def _ensure_dir(self, folder: Path) -> None:
        """Create ``folder`` (and parents) durably: each new folder's parent is fsynced."""
        if folder in self._made:
            return
        with self._lock:
            missing = []
            probe = folder
            while not probe.exists():
                missing.append(probe)
                probe = probe.parent
            for new in reversed(missing):
                new.mkdir(exist_ok=True)
                _fsync_folder(new.parent)
            self._made.add(folder)

    def create(self, key: str) -> int:
        """Start the blob ``key`` as ``<key>.part``; return a descriptor open for writing.

        :meth:`complete` gives it its final name once every byte is written, so that a
        blob cut off by a crash is never mistaken for a whole one.
        """
        final = self.path(key)
        self._ensure_dir(final.parent)
        return os.open(self._partial(final), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)

    def complete(self, key: str) -> None:
        """Rename ``<key>.part`` to ``key`` (made durable by :meth:`sync`)."""
        final = self.path(key)
        os.replace(self._partial(final), final)

    @staticmethod
    def _partial(final: Path) -> Path:
        return final.with_name(final.name + ".part")

    def write_new(self, key: str, data: bytes | memoryview) -> Path:
        """Create the blob ``key`` holding ``data``; not yet durable (see :meth:`sync`)."""
        fd = self.create(key)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except BaseException:
            os.close(fd)
            self.delete(key)
            raise
        os.close(fd)
        self.complete(key)
        return self.path(key)

    def sync(self, keys: list[str]) -> None:
        """Make written blobs durable: ``fdatasync`` each file and ``fsync`` each folder.

        Done for a whole batch at once, files and folders concurrently: the first sync
        commits the file system journal for everything written meanwhile, so the others
        return almost at once (one journal commit per batch instead of two per file).
        """
        folders = list(dict.fromkeys(self.path(key).parent for key in keys))
        pending = [self._folders.submit(_fsync_folder, f) for f in folders]
        try:
            for key in keys:
                fd = os.open(self.path(key), os.O_RDONLY)
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
        finally:
            for f in pending:
                f.result()

    def discard(self, path: Path) -> None:
        """Remove a file, ignoring one already gone."""
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    def delete(self, key: str) -> None:
        """Delete a blob, complete or not (no fsync: an undone delete leaves an orphan)."""
        final = self.path(key)
        self.discard(final)
        self.discard(self._partial(final))

    def read(self, key: str) -> bytes:
        """The whole blob."""
        return self.path(key).read_bytes()

    def hour_folders(self) -> list[str]:
        """Keys of the hour folders (``YYYY/MM/DD/HH``), oldest first."""
        found = []
        for year in sorted(self.root.glob("[0-9][0-9][0-9][0-9]")):
            for hour in sorted(year.glob("[0-9][0-9]/[0-9][0-9]/[0-9][0-9]")):
                found.append(hour.relative_to(self.root).as_posix())
        return found

    def keys_in(self, folder: str) -> list[str]:
        """Keys of the complete blobs in one hour folder."""
        return [f"{folder}/{p.name}" for p in (self.root / folder).glob("*.dcm")]

    def remove_partial(self, folder: str) -> int:
        """Delete the blobs of one hour folder that were never completed; return how many."""
        gone = 0
        for path in (self.root / folder).glob("*.dcm.part"):
            self.discard(path)
            gone += 1
        return gone

    def close(self) -> None:
        """Stop the folder-sync threads."""
        self._folders.shutdown(wait=True)
