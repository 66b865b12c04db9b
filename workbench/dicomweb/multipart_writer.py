"""Writing ``multipart/related`` messages (RFC 2046 section 5.1, RFC 2387) piece by piece.

The parsing half is :mod:`workbench.dicomweb.multipart`, which re-exports these names.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

RFC_BOUNDARY: Final = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_RFC_BOUNDARY = RFC_BOUNDARY
_TOKEN = TOKEN

__all__ = ["multipart_chunks", "multipart_content_type", "new_boundary"]


def new_boundary() -> str:
    """Return a fresh random boundary (RFC 2046 compliant, 42 characters)."""
    return f"workbench-{secrets.token_hex(16)}"


def _check_boundary(boundary: str) -> bytes:
    if not _RFC_BOUNDARY.fullmatch(boundary):
        raise ValueError(
            f"multipart boundary {boundary!r} must be 1 to 70 RFC 2046 boundary characters "
            "(letters, digits, '()+_,-./:=? and inner spaces)"
        )
    return boundary.encode("ascii")


def _param_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"media type parameter value {value!r} contains CR or LF")
    if _TOKEN.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def multipart_content_type(boundary: str, type_: str, **params: str) -> str:
    """Build the ``Content-Type`` of a ``multipart/related`` message.

    Parameters
    ----------
    boundary
        The boundary used by :func:`multipart_chunks`.
    type_
        The media type of the parts, e.g. ``"application/dicom"``.
    **params
        Further parameters; underscores in names become hyphens
        (``transfer_syntax="1.2.840.10008.1.2.1"`` gives ``transfer-syntax=...``).

    Returns
    -------
    str
        E.g. ``'multipart/related; type="application/dicom"; boundary=workbench-...'``.
    """
    _check_boundary(boundary)
    escaped_type = type_.replace("\\", "\\\\").replace('"', '\\"')
    items = [f'type="{escaped_type}"']
    for key, value in params.items():
        name = key.replace("_", "-").lower()
        if name in ("type", "boundary") or not _TOKEN.fullmatch(name):
            raise ValueError(f"multipart_content_type cannot take a parameter named {key!r}")
        items.append(f"{name}={_param_value(value)}")
    items.append(f"boundary={_param_value(boundary)}")
    return "multipart/related; " + "; ".join(items)


class _DelimiterGuard:
    """Refuses body bytes that would read as a delimiter, across chunk edges."""

    def __init__(self, delimiter: bytes, part_index: int) -> None:
        self._delimiter = delimiter
        self._overlap = len(delimiter) - 1
        self._tail = b"\r\n"  # the CRLF closing the header block precedes the body
        self._part_index = part_index

    def check(self, chunk: bytes) -> None:
        overlap = self._overlap
        if self._delimiter in self._tail + chunk[:overlap] or self._delimiter in chunk:
            raise ValueError(
                f"multipart part {self._part_index} body contains the delimiter "
                f"{self._delimiter[2:].decode('ascii')!r}; use another boundary"
            )
        self._tail = chunk[-overlap:] if len(chunk) >= overlap else (self._tail + chunk)[-overlap:]


def multipart_chunks(
    parts: Iterable[tuple[Mapping[str, str], bytes | Iterable[bytes]]], boundary: str
) -> Iterator[bytes]:
    """Encode parts as a ``multipart/related`` body, piece by piece.

    Parameters
    ----------
    parts
        ``(headers, body)`` pairs; a body is ``bytes`` or an iterable of ``bytes``
        chunks, which are passed through without being joined.
    boundary
        The boundary, e.g. from :func:`new_boundary`.

    Yields
    ------
    bytes
        Delimiter-and-header blocks, then each body's chunks, then the close delimiter.

    Raises
    ------
    ValueError
        The boundary is invalid, a header name or value is malformed, a body contains
        the delimiter, or there are no parts (raised when iteration reaches them).
    """
    encoded = _check_boundary(boundary)
    delimiter = b"\r\n--" + encoded
    count = 0
    for headers, body in parts:
        count += 1
        head = bytearray(delimiter[2:] if count == 1 else delimiter)
        head += b"\r\n"
        for name, value in headers.items():
            if not _TOKEN.fullmatch(name) or "\r" in value or "\n" in value:
                raise ValueError(
                    f"multipart part {count} has a malformed header {name!r}: {value!r}"
                )
            head += f"{name}: {value}\r\n".encode()
        head += b"\r\n"
        yield bytes(head)
        guard = _DelimiterGuard(delimiter, count)
        if isinstance(body, bytes | bytearray | memoryview):
            pieces: Iterable[bytes] = (bytes(body),)
        elif isinstance(body, str):
            raise TypeError(f"multipart part {count} body is str; encode it to bytes first")
        else:
            pieces = body
        for piece in pieces:
            if type(piece) is not bytes:
                piece = bytes(piece)
            guard.check(piece)
            if piece:
                yield piece
    if count == 0:
        raise ValueError("a multipart message needs at least one part")
    yield delimiter + b"--\r\n"


