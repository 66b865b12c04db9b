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

from server.storage.readers import BlobReader, FileReader

HOUR_FOLDER_DIGITS = (4, 2, 2, 2)
"""Digits of each level of an hour folder key, ``YYYY/MM/DD/HH``."""


def since_allows(folder: str, since: str) -> bool:
    """Whether hour folder ``folder`` or a folder below it can be at or after ``since``.

    ``folder`` is a whole or leading part of ``YYYY/MM/DD/HH``; so is ``since`` ("" means
    everything). Used to skip whole years, months and days when listing.

    Examples
    --------
    >>> since_allows("2024/03", "2024/03/15/10"), since_allows("2024/02", "2024/03/15/10")
    (True, False)
    """
    return folder >= since[:len(folder)]


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

    def _file(self, key: str) -> Path:
        """The file of a blob key in this folder (whether it exists or not)."""
        return self.root / key

    def path(self, key: str) -> Path:
        """Absolute path of a local file holding the blob ``key``."""
        return self.root / key

    def local_path(self, key: str) -> Path | None:
        """A local file holding the blob, found without fetching anything, or None.

        Here always the blob's own path (which may not exist); an object store answers
        with its cached copy or None. For callers that must not block (the event loop).
        """
        return self.root / key

    def open_reader(self, key: str) -> BlobReader:
        """The blob open for positional reads (:class:`FileNotFoundError` if absent)."""
        return FileReader(self.path(key))

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of the blob from ``offset`` (fewer only at its end)."""
        with self.open_reader(key) as blob:
            return blob.pread(length, offset)

    def size(self, key: str) -> int:
        """Bytes in the blob."""
        return os.stat(self.path(key)).st_size

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
        final = self._file(key)
        self._ensure_dir(final.parent)
        return os.open(self._partial(final), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)

    def complete(self, key: str) -> None:
        """Rename ``<key>.part`` to ``key`` (made durable by :meth:`sync`)."""
        final = self._file(key)
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
        return self._file(key)

    def sync(self, keys: list[str]) -> None:
        """Make written blobs durable: ``fdatasync`` each file and ``fsync`` each folder.

        Done for a whole batch at once, files and folders concurrently: the first sync
        commits the file system journal for everything written meanwhile, so the others
        return almost at once (one journal commit per batch instead of two per file).
        """
        folders = list(dict.fromkeys(self._file(key).parent for key in keys))
        pending = [self._folders.submit(_fsync_folder, f) for f in folders]
        try:
            for key in keys:
                fd = os.open(self._file(key), os.O_RDONLY)
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
        final = self._file(key)
        self.discard(final)
        self.discard(self._partial(final))

    def read(self, key: str) -> bytes:
        """The whole blob."""
        return self.path(key).read_bytes()

    def hour_folders(self, since: str = "") -> list[str]:
        """Keys of the hour folders (``YYYY/MM/DD/HH``), oldest first.

        Years, months and days wholly before ``since`` (a leading part of an hour folder
        key; "" for all) are not looked into.
        """
        level = [""]
        for digits in HOUR_FOLDER_DIGITS:
            below = []
            for parent in level:
                base = self.root / parent if parent else self.root
                for child in base.glob("[0-9]" * digits):
                    key = f"{parent}/{child.name}" if parent else child.name
                    if child.is_dir() and since_allows(key, since):
                        below.append(key)
            level = below
        return sorted(level)

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
