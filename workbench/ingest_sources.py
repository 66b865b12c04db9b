"""The files an ingest run reads: plain files, files in folders, members of zip files.

:func:`iter_sources` lists them in a stable order, each as a :class:`Source` with an
identity that stays the same from run to run (used by the resume state).
"""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Source", "iter_sources"]


class _Zip:
    """A zip file opened once, on first use, and shared by its members' sources."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: zipfile.ZipFile | None = None
        self._lock = threading.Lock()

    def read(self, member: str, size: int | None = None) -> bytes:
        with self._lock:
            if self._file is None:
                self._file = zipfile.ZipFile(self.path)
            with self._file.open(member) as fh:
                return fh.read() if size is None else fh.read(size)


@dataclass(frozen=True)
class Source:
    """One file to ingest: a file on disk or a member of a zip file.

    Attributes
    ----------
    id
        Stable identity: the absolute path, or ``<zip path>!<member name>``.
    size
        Size in bytes (uncompressed, for zip members).
    mtime
        Modification time of the file (of the zip file, for members).
    """

    id: str
    size: int
    mtime: float
    path: Path
    member: str | None = None
    _zip: _Zip | None = field(default=None, repr=False, compare=False)

    def read(self) -> bytes:
        """The whole content."""
        if self._zip is not None and self.member is not None:
            return self._zip.read(self.member)
        return self.path.read_bytes()

    def head(self, size: int = 132) -> bytes:
        """The first ``size`` bytes (fewer if the file is shorter)."""
        if self._zip is not None and self.member is not None:
            return self._zip.read(self.member, size)
        with open(self.path, "rb") as fh:
            return fh.read(size)


def _zip_sources(path: Path) -> Iterator[Source]:
    archive = _Zip(path)
    mtime = path.stat().st_mtime
    with zipfile.ZipFile(path) as zf:
        infos = sorted(zf.infolist(), key=lambda info: info.filename)
    for info in infos:
        if info.is_dir() or info.filename.startswith("__MACOSX/"):
            continue
        yield Source(f"{path}!{info.filename}", info.file_size, mtime, path, info.filename, archive)


def _file_sources(path: Path) -> Iterator[Source]:
    if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
        yield from _zip_sources(path)
    else:
        stat = path.stat()
        yield Source(str(path), stat.st_size, stat.st_mtime, path)


def iter_sources(paths: Sequence[Path]) -> Iterator[Source]:
    """Files to ingest, in a stable order.

    Parameters
    ----------
    paths
        Files, folders (walked recursively, in sorted order) and ``.zip`` files
        (their members, folders inside included, in sorted order; zip files found in
        folders are opened too).

    Yields
    ------
    Source

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    """
    for given in paths:
        path = Path(given).absolute()
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                yield from _file_sources(child)
        elif path.exists():
            yield from _file_sources(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {given}")
