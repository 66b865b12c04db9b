"""Blob store on a local folder, written so that a killed process loses nothing acknowledged.

Layout: ``<root>/<xx>/<StudyInstanceUID>/<SOPInstanceUID>-<sha256[:16]>.dcm`` where
``xx`` spreads studies over 256 folders. The content hash in the name makes every
version of an instance its own file: replacing an instance writes a new file, commits
the index, and only then removes the old one.

Writing follows DESIGN.md: temporary file in the target folder, ``fsync``, rename into
place, ``fsync`` of the folder. Leftover ``*.tmp`` files of a killed process are swept
by :meth:`LocalBlobStore.sweep_temporary`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1024 * 1024


class LocalBlobStore:
    """Blobs in a local folder, addressed by paths relative to ``root``.

    Parameters
    ----------
    root
        The folder; created if missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._made: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def key_for(study_uid: str, sop_uid: str, sha256: str) -> str:
        """Relative blob path of an instance version."""
        spread = hashlib.blake2s(study_uid.encode(), digest_size=1).hexdigest()
        return f"{spread}/{study_uid}/{sop_uid}-{sha256[:16]}.dcm"

    def path(self, key: str) -> Path:
        """Absolute path of a blob key."""
        return self.root / key

    def _ensure_dir(self, folder: Path) -> None:
        name = str(folder)
        if name in self._made:
            return
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._made.add(name)

    def write_temporary(self, key: str, data: bytes | memoryview) -> Path:
        """Write ``data`` next to its final place and fsync it; return the temporary path."""
        final = self.path(key)
        self._ensure_dir(final.parent)
        tmp = final.with_name(f".{final.name}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        return tmp

    def adopt_temporary(self, key: str, source: Path) -> Path:
        """Move a spooled file (same file system) next to its final place, fsynced."""
        final = self.path(key)
        self._ensure_dir(final.parent)
        tmp = final.with_name(f".{final.name}.{threading.get_ident()}.tmp")
        fd = os.open(source, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(source, tmp)
        return tmp

    def write_durable(self, key: str, data: bytes | memoryview) -> Path:
        """Write a blob under its final name: temporary file, fsync, rename, fsync folder."""
        return self._publish_durably(self.write_temporary(key, data), key)

    def adopt_durable(self, key: str, source: Path) -> Path:
        """Move a spooled file under its final name, durably."""
        return self._publish_durably(self.adopt_temporary(key, source), key)

    def _publish_durably(self, tmp: Path, key: str) -> Path:
        final = self.publish(tmp, key)
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return final

    def publish(self, tmp: Path, key: str) -> Path:
        """Rename a written temporary file into place (atomic); the folder is synced later."""
        final = self.path(key)
        os.replace(tmp, final)
        return final

    def sync_folders(self, keys: list[str]) -> None:
        """fsync the folders holding ``keys`` so that their renames are durable."""
        for folder in {str(self.path(k).parent) for k in keys}:
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def discard(self, path: Path) -> None:
        """Remove a temporary or superseded file, ignoring one already gone."""
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    def delete(self, key: str) -> None:
        """Delete a blob and, when empty, its study folder."""
        final = self.path(key)
        self.discard(final)
        try:
            final.parent.rmdir()
        except OSError:
            pass

    def delete_study_folder(self, study_uid: str) -> None:
        """Remove a study's whole folder (after its rows are gone)."""
        spread = hashlib.blake2s(study_uid.encode(), digest_size=1).hexdigest()
        shutil.rmtree(self.root / spread / study_uid, ignore_errors=True)

    def read(self, key: str) -> bytes:
        """The whole blob."""
        return self.path(key).read_bytes()

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of a blob from ``offset``."""
        with open(self.path(key), "rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def iter_chunks(self, key: str, chunk: int = CHUNK) -> Iterator[bytes]:
        """The blob in chunks, for streaming responses."""
        with open(self.path(key), "rb") as fh:
            while block := fh.read(chunk):
                yield block

    def sweep_temporary(self) -> int:
        """Delete ``*.tmp`` files a killed process left behind; return how many."""
        count = 0
        for tmp in self.root.rglob(".*.tmp"):
            self.discard(tmp)
            count += 1
        spool = self.root / ".spool"
        if spool.exists():
            for tmp in spool.iterdir():
                self.discard(tmp)
                count += 1
        return count

    @property
    def spool_dir(self) -> Path:
        """Folder for parts too large to hold in memory while they arrive."""
        folder = self.root / ".spool"
        folder.mkdir(exist_ok=True)
        return folder
