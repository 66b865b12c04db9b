"""Positional reads of one stored blob, whatever holds it.

The retrieve path (``server/services/retrieve.py``) reads byte ranges of a blob: the Pixel
Data element header at the offset recorded at ingest, one frame, a slice of a file being
sent. It does so through a :class:`BlobReader`, so that a local file
(:class:`FileReader`: ``pread`` on a descriptor, as fast as before) and an object in a
bucket (:class:`RangeReader`: a ranged ``GET`` per read, see ``server/storage/s3.py``)
serve it alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self


class BlobReader(Protocol):
    """One blob open for positional reads; a context manager that closes it.

    Reads never move a position: each names its offset (bytes from the start of the
    blob). A read past the end returns fewer bytes (none at or beyond the end).
    """

    def size(self) -> int:
        """Bytes in the blob."""
        ...

    def pread(self, length: int, offset: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the blob)."""
        ...

    def readinto(self, view: memoryview, offset: int) -> int:
        """Fill ``view`` from ``offset`` as far as the blob goes; the bytes read."""
        ...

    def close(self) -> None:
        """Release what the reader holds."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None: ...


class FileReader:
    """A blob in a local file, read with ``pread``/``preadv`` on one descriptor.

    Parameters
    ----------
    path
        The file; :class:`FileNotFoundError` if it does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "blob"
    >>> _ = p.write_bytes(b"0123456789")
    >>> with FileReader(p) as blob:
    ...     blob.size(), blob.pread(3, 4)
    (10, b'456')
    """

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY)

    def size(self) -> int:
        """Bytes in the file now."""
        return os.fstat(self.fd).st_size

    def pread(self, length: int, offset: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (one ``pread``: it may return fewer)."""
        return os.pread(self.fd, length, offset)

    def readinto(self, view: memoryview, offset: int) -> int:
        """One ``preadv`` into ``view``; the bytes read (fewer than asked is possible)."""
        return os.preadv(self.fd, [view], offset)

    def close(self) -> None:
        """Close the descriptor."""
        os.close(self.fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


READAHEAD = 64 << 10
"""Bytes a small ranged read fetches at least (one request for the Pixel Data element
header and the start of the frame after it)."""


class RangeSource(Protocol):
    """A store that answers ranged reads (``server/storage/s3.py``)."""

    def size(self, key: str) -> int:
        """Bytes in blob ``key`` (:class:`FileNotFoundError` if it does not exist)."""
        ...

    def get_range(self, key: str, offset: int, length: int) -> tuple[bytes, int | None]:
        """Up to ``length`` bytes of blob ``key`` from ``offset``, and the blob's size when
        the answer tells it."""
        ...


class RangeReader:
    """A blob read by ranges from a :class:`RangeSource` (an object store: one ranged GET
    per read); reads smaller than :data:`READAHEAD` fetch that much and answer the next
    reads inside it from memory.

    Parameters
    ----------
    store
        Where the blob is.
    key
        The blob key.

    Examples
    --------
    >>> class Memory:
    ...     def size(self, key): return 10
    ...     def get_range(self, key, offset, length):
    ...         return b"0123456789"[offset:offset + length], 10
    >>> with RangeReader(Memory(), "k") as blob:
    ...     blob.pread(3, 2), blob.pread(5, 8), blob.size()
    (b'234', b'89', 10)
    """

    def __init__(self, store: RangeSource, key: str) -> None:
        self.store = store
        self.key = key
        self._size: int | None = None
        self._block_at = 0
        self._block = b""

    def size(self) -> int:
        """Bytes in the blob (known after any read; asked of the store before)."""
        if self._size is None:
            self._size = self.store.size(self.key)
        return self._size

    def pread(self, length: int, offset: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the object)."""
        if length <= 0 or (self._size is not None and offset >= self._size):
            return b""
        end = offset + length
        if self._block_at <= offset and end <= self._block_at + len(self._block):
            return self._block[offset - self._block_at:end - self._block_at]
        fetch = max(length, READAHEAD)
        data, total = self.store.get_range(self.key, offset, fetch)
        if total is not None:
            self._size = total
        if fetch > length:
            self._block_at, self._block = offset, data
        return data[:length]

    def readinto(self, view: memoryview, offset: int) -> int:
        """Fill ``view`` from ``offset`` as far as the object goes; the bytes read."""
        data = self.pread(len(view), offset)
        view[:len(data)] = data
        return len(data)

    def close(self) -> None:
        """Forget the read-ahead block."""
        self._block = b""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
