"""Streaming ``multipart/related`` framing (RFC 2046 section 5.1, RFC 2387).

:class:`MultipartParser` is a push parser for STOW-RS bodies: it is fed chunk by chunk,
keeps only a short tail between chunks (a partial delimiter or an unfinished header
block) and scans part bodies with :meth:`bytes.find`. A delimiter is ``CRLF--boundary``
plus optional transport padding (spaces, tabs) and CRLF; the first may come without
the CRLF; ``CRLF--boundary--`` closes the message. Preamble and epilogue are ignored;
text that only resembles a delimiter is part data. :func:`multipart_chunks` (in
``multipart_writer``, re-exported here) writes messages piece by piece.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeAlias

from workbench.dicomweb.media import parse_content_type
from workbench.dicomweb.multipart_writer import TOKEN as _TOKEN
from workbench.dicomweb.multipart_writer import (  # the writing half, re-exported
    multipart_chunks as multipart_chunks,
)
from workbench.dicomweb.multipart_writer import (
    multipart_content_type as multipart_content_type,
)
from workbench.dicomweb.multipart_writer import new_boundary as new_boundary
from workbench.errors import PayloadTooLargeError, QueryError, WorkbenchError


class InvalidMultipart(WorkbenchError, ValueError):
    """A ``multipart/related`` body or its ``Content-Type`` is malformed or truncated."""


@dataclass(frozen=True)
class PartHeaders:
    """The header fields of one body part.

    Parameters
    ----------
    fields
        Header values by name. Names are lower-cased and values stripped on
        construction; repeated fields are joined with ``", "`` by the parser.
    """

    fields: Mapping[str, str]

    def __post_init__(self) -> None:
        normalised = {name.lower(): value.strip() for name, value in self.fields.items()}
        object.__setattr__(self, "fields", MappingProxyType(normalised))

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the value of header ``name`` (any case), or ``default``."""
        return self.fields.get(name.lower(), default)

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` value, parameters included, or ``None``."""
        return self.fields.get("content-type")

    @property
    def content_location(self) -> str | None:
        """The ``Content-Location`` value, or ``None``."""
        return self.fields.get("content-location")


@dataclass(frozen=True, slots=True)
class PartStart:
    """A body part begins; its headers are complete."""

    headers: PartHeaders


@dataclass(frozen=True, slots=True)
class PartData:
    """A piece of the current part's body (an immutable ``bytes`` copy, safe to keep)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    """The current part's body is complete."""


MultipartEvent: TypeAlias = PartStart | PartData | PartEnd

# RFC 2046 bchars; the parser accepts any printable ASCII, the writer only these.
_PADDING_CRLF: Final = re.compile(rb"[ \t]*\r\n")
_PADDING_PREFIX: Final = re.compile(rb"[ \t]*\r?")
_MAX_PADDING: Final = 1024
_MAX_PARSER_BOUNDARY: Final = 256

_PREAMBLE, _HEADERS, _BODY, _EPILOGUE, _FAILED = range(5)
_NEED_MORE, _NOT_DELIMITER, _NEXT_PART, _CLOSE = range(4)


def _parser_boundary(boundary: str | bytes) -> bytes:
    raw = boundary.encode("ascii", "replace") if isinstance(boundary, str) else bytes(boundary)
    if not 1 <= len(raw) <= _MAX_PARSER_BOUNDARY or any(not 0x20 <= c <= 0x7E for c in raw):
        raise InvalidMultipart(
            f"multipart boundary {boundary!r} must be 1 to {_MAX_PARSER_BOUNDARY} printable "
            "ASCII characters"
        )
    return raw


class MultipartParser:
    """Incremental ``multipart/related`` parser.

    Parameters
    ----------
    boundary
        The ``boundary`` parameter of the message's ``Content-Type`` (without ``--``).
    max_header_bytes
        Largest header block of one part, blank line included.
    max_part_bytes
        Largest body of one part; ``None`` for no limit.

    Notes
    -----
    :meth:`feed` and :meth:`close` return the events completed so far, in order:
    for each part a :class:`PartStart`, zero or more :class:`PartData` and a
    :class:`PartEnd`. Data after the close delimiter is ignored. After an error
    the parser refuses further input.
    """

    def __init__(
        self,
        boundary: str | bytes,
        *,
        max_header_bytes: int = 16384,
        max_part_bytes: int | None = None,
    ) -> None:
        if max_header_bytes < 1:
            raise ValueError(f"max_header_bytes must be positive, got {max_header_bytes}")
        if max_part_bytes is not None and max_part_bytes < 0:
            raise ValueError(f"max_part_bytes must be >= 0 or None, got {max_part_bytes}")
        self._boundary = _parser_boundary(boundary)
        self._delimiter = b"\r\n--" + self._boundary
        self._max_header_bytes = max_header_bytes
        self._max_part_bytes = max_part_bytes
        self._state = _PREAMBLE
        # The leading CRLF lets a first delimiter at offset 0 match like any other.
        self._tail = b"\r\n"
        self._part_index = 0
        self._part_size = 0

    @property
    def parts_started(self) -> int:
        """How many parts have begun so far."""
        return self._part_index

    @property
    def finished(self) -> bool:
        """Whether the close delimiter has been seen."""
        return self._state == _EPILOGUE

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[MultipartEvent]:
        """Parse the next piece of the body.

        Parameters
        ----------
        chunk
            Any number of bytes, including none.

        Returns
        -------
        list of PartStart, PartData or PartEnd
            Events completed by this chunk.

        Raises
        ------
        InvalidMultipart
            The body is malformed.
        PayloadTooLargeError
            A header block or part exceeds its limit.
        """
        if self._state == _EPILOGUE:
            return []
        data = chunk if type(chunk) is bytes else bytes(chunk)
        if self._tail:
            data = self._tail + data
        return self._run(data, final=False)

    def close(self) -> list[MultipartEvent]:
        """Signal the end of the body.

        Returns
        -------
        list of PartStart, PartData or PartEnd
            Always empty for a well-formed message (every event was already returned).

        Raises
        ------
        InvalidMultipart
            The close delimiter was never seen: the body is empty, has no boundary
            or is truncated.
        """
        if self._state == _EPILOGUE:
            return []
        return self._run(self._tail, final=True)

    # -- internals -------------------------------------------------------------------------

    def _run(self, data: bytes, *, final: bool) -> list[MultipartEvent]:
        if self._state == _FAILED:
            raise InvalidMultipart("the multipart parser already failed; it accepts no more input")
        events: list[MultipartEvent] = []
        try:
            self._tail = self._process(data, events, final)
        except (WorkbenchError, ValueError):
            self._state = _FAILED
            self._tail = b""
            raise
        return events

    def _process(self, data: bytes, events: list[MultipartEvent], final: bool) -> bytes:
        """Consume ``data``, appending events; return the bytes to keep for later."""
        delimiter = self._delimiter
        size = len(data)
        pos = 0  # start of unconsumed bytes
        search = 0  # where to look for the next delimiter
        while True:
            state = self._state
            if state == _HEADERS:
                body = self._headers(data, pos, events, final)
                if body < 0:
                    return data[pos:]
                pos = search = body
                continue
            if state == _EPILOGUE:
                return b""
            found = data.find(delimiter, search)
            if found < 0:
                if final:
                    raise self._truncated()
                keep = self._partial_start(data, max(search, size - len(delimiter) + 1))
                if state == _BODY:
                    self._emit(events, data, pos, keep)
                return data[keep:]
            kind, after = self._classify(data, found + len(delimiter), final)
            if kind == _NOT_DELIMITER:
                search = found + 1
                continue
            if state == _BODY:
                self._emit(events, data, pos, found)
            if kind == _NEED_MORE:
                return data[found:]
            if state == _BODY:
                events.append(PartEnd())
            if kind == _CLOSE:
                self._state = _EPILOGUE
                return b""
            self._state = _HEADERS
            self._part_index += 1
            pos = search = after

    def _headers(self, data: bytes, pos: int, events: list[MultipartEvent], final: bool) -> int:
        """Parse the header block at ``pos``; return where the body starts, or -1 if incomplete."""
        if data.startswith(b"\r\n", pos):
            end, body = pos, pos + 2
        else:
            end = data.find(b"\r\n\r\n", pos)
            body = end + 4
        limit = self._max_header_bytes
        if end < 0:
            if data.find(self._delimiter, pos) >= 0:
                raise self._no_blank_line()
            if len(data) - pos > limit:
                raise PayloadTooLargeError(
                    f"multipart part {self._part_index} headers exceed max_header_bytes={limit} "
                    "without the blank line that ends them"
                )
            if final:
                raise self._truncated()
            return -1
        if body - pos > limit:
            raise PayloadTooLargeError(
                f"multipart part {self._part_index} headers are {body - pos} bytes, "
                f"over max_header_bytes={limit}"
            )
        block = data[pos:end]
        if self._delimiter in block:
            raise self._no_blank_line()
        events.append(PartStart(self._parse_headers(block)))
        self._state = _BODY
        self._part_size = 0
        return body

    def _parse_headers(self, block: bytes) -> PartHeaders:
        fields: dict[str, str] = {}
        if not block:
            return PartHeaders(fields)
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            text = block.decode("latin-1")
        last: str | None = None
        for line in text.split("\r\n"):
            if line[:1] in (" ", "\t") and last is not None:  # obsolete line folding
                fields[last] = f"{fields[last]} {line.strip()}".strip()
                continue
            name, colon, value = line.partition(":")
            name = name.strip()
            if not colon or not _TOKEN.fullmatch(name):
                raise InvalidMultipart(
                    f"multipart part {self._part_index} header line {line!r} is not 'Name: value'"
                )
            last = name.lower()
            value = value.strip()
            fields[last] = f"{fields[last]}, {value}" if last in fields else value
        return PartHeaders(fields)

    def _classify(self, data: bytes, after: int, final: bool) -> tuple[int, int]:
        """Decide what the bytes following a ``CRLF--boundary`` match make of it."""
        remaining = len(data) - after
        if remaining < 2:
            return (_NOT_DELIMITER if final else _NEED_MORE), after
        if data.startswith(b"--", after):
            return _CLOSE, after + 2
        match = _PADDING_CRLF.match(data, after)
        if match is not None:
            return _NEXT_PART, match.end()
        prefix = _PADDING_PREFIX.match(data, after)
        if prefix is not None and prefix.end() == len(data) and not final:
            if remaining > _MAX_PADDING:
                raise InvalidMultipart(
                    f"transport padding after multipart boundary exceeds {_MAX_PADDING} bytes"
                )
            return _NEED_MORE, after
        return _NOT_DELIMITER, after

    def _partial_start(self, data: bytes, start: int) -> int:
        """Index of a suffix of ``data[start:]`` that may begin a delimiter, else ``len(data)``."""
        # The boundary holds no CR, so only the last CR can start a delimiter prefix.
        cr = data.rfind(b"\r", start)
        if cr >= 0 and self._delimiter.startswith(data[cr:]):
            return cr
        return len(data)

    def _emit(self, events: list[MultipartEvent], data: bytes, start: int, end: int) -> None:
        if end <= start:
            return
        self._part_size += end - start
        limit = self._max_part_bytes
        if limit is not None and self._part_size > limit:
            raise PayloadTooLargeError(
                f"multipart part {self._part_index} exceeds max_part_bytes={limit}"
            )
        events.append(PartData(data[start:end]))

    def _no_blank_line(self) -> InvalidMultipart:
        return InvalidMultipart(
            f"multipart part {self._part_index} headers are not ended by a blank line "
            "before the next boundary"
        )

    def _truncated(self) -> InvalidMultipart:
        close = f"'--{self._boundary.decode('ascii')}--'"
        if self._state == _PREAMBLE:
            return InvalidMultipart(
                f"multipart body holds no boundary delimiter '--{self._boundary.decode('ascii')}'"
            )
        where = "headers" if self._state == _HEADERS else "body"
        return InvalidMultipart(
            f"multipart body is truncated in the {where} of part {self._part_index}: "
            f"the close delimiter {close} was not seen"
        )


def iter_parts(
    chunks: Iterable[bytes],
    boundary: str | bytes,
    *,
    max_header_bytes: int = 16384,
    max_part_bytes: int | None = None,
) -> Iterator[tuple[PartHeaders, bytes]]:
    """Parse a whole message into ``(headers, body)`` pairs, each body joined in memory.

    Meant for small messages and tests; servers should drive :class:`MultipartParser`.

    Parameters
    ----------
    chunks
        The message body in pieces.
    boundary
        The message boundary.
    max_header_bytes, max_part_bytes
        Passed to :class:`MultipartParser`.

    Yields
    ------
    tuple of PartHeaders and bytes
        Each part, once its body is complete.
    """
    parser = MultipartParser(
        boundary, max_header_bytes=max_header_bytes, max_part_bytes=max_part_bytes
    )
    headers = PartHeaders({})
    pieces: list[bytes] = []
    for chunk in [*chunks, None]:
        events = parser.close() if chunk is None else parser.feed(chunk)
        for event in events:
            if isinstance(event, PartStart):
                headers, pieces = event.headers, []
            elif isinstance(event, PartData):
                pieces.append(event.data)
            else:
                yield headers, b"".join(pieces)


def boundary_from_content_type(content_type: str) -> str:
    """Return the ``boundary`` parameter of a ``multipart/*`` ``Content-Type``.

    Raises
    ------
    InvalidMultipart
        The value is malformed, not ``multipart/*``, or has no usable boundary.
    """
    try:
        media_type, params = parse_content_type(content_type)
    except QueryError as exc:
        raise InvalidMultipart(str(exc)) from exc
    if not media_type.startswith("multipart/"):
        raise InvalidMultipart(
            f"Content-Type {content_type!r} is not multipart (expected multipart/related)"
        )
    boundary = params.get("boundary")
    if not boundary:
        raise InvalidMultipart(f"Content-Type {content_type!r} has no boundary parameter")
    _parser_boundary(boundary)
    return boundary
