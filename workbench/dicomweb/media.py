"""Media types and content negotiation for DICOMweb (PS3.18 section 8.7).

:func:`parse_accept` turns an ``Accept`` header into :class:`MediaRange` objects;
the ``choose_*`` functions pick what a WADO-RS resource is answered with:

* :func:`choose_instance_transfer_syntax` for instances (``application/dicom``),
* :func:`choose_frame_media_type` for frames and bulk data,
* :func:`choose_rendered_media_type` (and the general :func:`choose_media_type`)
  for rendered images, metadata and other single-type resources.

Malformed header values raise :class:`~workbench.errors.QueryError`; a request that
cannot be satisfied raises :class:`~workbench.errors.NotAcceptableError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from workbench.errors import NotAcceptableError, QueryError

__all__ = [
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "NATIVE_TRANSFER_SYNTAXES",
    "TRANSFER_SYNTAX_MEDIA_TYPES",
    "MediaRange",
    "canonical_media_type",
    "choose_frame_media_type",
    "choose_instance_transfer_syntax",
    "choose_media_type",
    "choose_rendered_media_type",
    "media_type_for_transfer_syntax",
    "parse_accept",
    "parse_content_type",
]

EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1"

#: Transfer syntaxes whose pixel data is not compressed; frames are plain bytes.
NATIVE_TRANSFER_SYNTAXES: Final = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        EXPLICIT_VR_LITTLE_ENDIAN,
        "1.2.840.10008.1.2.1.98",  # Encapsulated Uncompressed Explicit VR Little Endian
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
    }
)

_OCTET_STREAM: Final = "application/octet-stream"
_BIG_ENDIAN: Final = "1.2.840.10008.1.2.2"
_JPEG = ("50", "51", "57", "70")
_VIDEO_MPEG = ("100", "100.1", "101", "101.1")
_VIDEO_MP4 = (
    *("102", "102.1", "103", "103.1", "104", "104.1", "105", "105.1", "106", "106.1"),
    *("107", "108"),  # HEVC/H.265 Main and Main 10
)
_COMPRESSED: Final = {
    **{f"1.2.840.10008.1.2.4.{n}": "image/jpeg" for n in _JPEG},
    **{f"1.2.840.10008.1.2.4.{n}": "image/jls" for n in ("80", "81")},
    **{f"1.2.840.10008.1.2.4.{n}": "image/jp2" for n in ("90", "91")},
    **{f"1.2.840.10008.1.2.4.{n}": "image/jpx" for n in ("92", "93")},
    **{f"1.2.840.10008.1.2.4.{n}": "image/jxl" for n in ("110", "111", "112")},
    **{f"1.2.840.10008.1.2.4.{n}": "image/jphc" for n in ("201", "202", "203")},
    **{f"1.2.840.10008.1.2.4.{n}": "video/mpeg" for n in _VIDEO_MPEG},
    **{f"1.2.840.10008.1.2.4.{n}": "video/mp4" for n in _VIDEO_MP4},
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}

#: Media type of frames and bulk data in each transfer syntax (PS3.18 Table 8.7.3-5),
#: in the PS3.18 spelling; :func:`canonical_media_type` maps older spellings to these.
TRANSFER_SYNTAX_MEDIA_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {**dict.fromkeys(sorted(NATIVE_TRANSFER_SYNTAXES), _OCTET_STREAM), **_COMPRESSED}
)

_ALIASES: Final = {
    "image/x-dicom-rle": "image/dicom-rle",
    "image/x-jls": "image/jls",
    "image/jhc": "image/jphc",
    "video/mpeg2": "video/mpeg",
}

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_MEDIA_TYPE: Final = re.compile(rf"[ \t]*(?P<type>{_TOKEN})(?:/(?P<subtype>{_TOKEN}))?[ \t]*")
_PARAMETER: Final = re.compile(
    rf";[ \t]*(?P<name>{_TOKEN})[ \t]*=[ \t]*"
    r'(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^;,"\s]*)(?!"))[ \t]*'
)
_EMPTY_PARAMETER: Final = re.compile(r";[ \t]*(?=[,;]|\Z)")
_LIST_SEPARATOR: Final = re.compile(r"[ \t]*(?:,[ \t]*)*")
_QUOTED_PAIR: Final = re.compile(r"\\(.)")
_UID: Final = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+")


@dataclass(frozen=True)
class MediaRange:
    """One element of an ``Accept`` header.

    Parameters
    ----------
    media_type
        Lower-case ``type/subtype``; may be ``*/*`` or ``type/*``.
    params
        Parameters other than ``q``: lower-case names, unquoted values (the ``type``
        value lower-cased too).
    q
        Quality, 0 to 1.
    """

    media_type: str
    params: Mapping[str, str] = field(default_factory=dict)
    q: float = 1.0

    def __post_init__(self) -> None:
        params = {name.lower(): value for name, value in self.params.items()}
        if "type" in params:
            params["type"] = params["type"].lower()
        object.__setattr__(self, "media_type", self.media_type.lower())
        object.__setattr__(self, "params", MappingProxyType(params))

    def __hash__(self) -> int:
        return hash((self.media_type, tuple(sorted(self.params.items())), self.q))

    @property
    def type_param(self) -> str | None:
        """The ``type`` parameter of a multipart range (the media type of its parts)."""
        return self.params.get("type")

    @property
    def transfer_syntax(self) -> str | None:
        """The ``transfer-syntax`` parameter: a UID, ``"*"`` or ``None``."""
        return self.params.get("transfer-syntax")

    def matches(self, media_type: str) -> bool:
        """Whether this range (``*/*``, ``type/*`` or exact) covers ``media_type``."""
        return _covers(self.media_type, media_type)

    def __str__(self) -> str:
        text = self.media_type
        for name, value in self.params.items():
            text += f'; {name}="{value}"' if name == "type" else f"; {name}={value}"
        return text if self.q == 1.0 else f"{text}; q={self.q:g}"


def canonical_media_type(media_type: str) -> str:
    """Lower-case ``media_type`` and replace an older spelling (``image/x-jls``) by PS3.18's."""
    lowered = media_type.strip().lower()
    return _ALIASES.get(lowered, lowered)


def media_type_for_transfer_syntax(transfer_syntax: str) -> str:
    """Media type of frames in ``transfer_syntax``; ``application/octet-stream`` if unknown."""
    return TRANSFER_SYNTAX_MEDIA_TYPES.get(transfer_syntax, _OCTET_STREAM)


def _covers(pattern: str, media_type: str) -> bool:
    pattern, media_type = canonical_media_type(pattern), canonical_media_type(media_type)
    if pattern in ("*/*", media_type):
        return True
    main, _, sub = pattern.partition("/")
    return sub == "*" and media_type.startswith(main + "/")


def _parse_range(value: str, pos: int, what: str) -> tuple[str, dict[str, str], int]:
    match = _MEDIA_TYPE.match(value, pos)
    if match is None or (match["subtype"] is None and match["type"] != "*"):
        raise QueryError(
            f"{what} {value!r}: expected a media type like 'type/subtype' at offset {pos}"
        )
    media_type = f"{match['type']}/{match['subtype'] or '*'}".lower()
    params: dict[str, str] = {}
    pos = match.end()
    while pos < len(value) and value[pos] == ";":
        param = _PARAMETER.match(value, pos)
        if param is not None:
            quoted = param["quoted"]
            text = _QUOTED_PAIR.sub(r"\1", quoted) if quoted is not None else param["bare"]
            params[param["name"].lower()] = text
            pos = param.end()
            continue
        empty = _EMPTY_PARAMETER.match(value, pos)
        if empty is None:
            raise QueryError(f"{what} {value!r}: malformed parameter at offset {pos}")
        pos = empty.end()
    return media_type, params, pos


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a ``Content-Type`` value into its media type and parameters.

    Parameters
    ----------
    value
        E.g. ``'multipart/related; type="application/dicom"; boundary=abc'``.

    Returns
    -------
    tuple of str and dict
        The lower-case media type and the parameters (lower-case names, unquoted values).

    Raises
    ------
    QueryError
        The value is empty or malformed.
    """
    media_type, params, pos = _parse_range(value, 0, "Content-Type")
    if pos != len(value):
        raise QueryError(f"Content-Type {value!r}: unexpected text at offset {pos}")
    return media_type, params


def parse_accept(value: str | None) -> list[MediaRange]:
    """Parse an ``Accept`` header (or ``accept`` query parameter).

    Parameters
    ----------
    value
        The header value; ``None`` or blank means ``*/*``.

    Returns
    -------
    list of MediaRange
        Sorted by ``q``, highest first, keeping header order among equals; ranges
        with ``q=0`` are left out. A lone ``*`` is read as ``*/*``.

    Raises
    ------
    QueryError
        A range or its ``q`` value is malformed.
    """
    if value is None or not value.strip():
        return [MediaRange("*/*")]
    ranges: list[MediaRange] = []
    pos = _skip_separators(value, 0)
    while pos < len(value):
        media_type, params, end = _parse_range(value, pos, "Accept")
        q = _quality(params.pop("q", None), value)
        if q > 0:
            ranges.append(MediaRange(media_type, params, q))
        if end < len(value) and value[end] != ",":
            raise QueryError(f"Accept {value!r}: expected ',' at offset {end}")
        pos = _skip_separators(value, end)
    ranges.sort(key=lambda media_range: -media_range.q)
    return ranges


def _skip_separators(value: str, pos: int) -> int:
    match = _LIST_SEPARATOR.match(value, pos)
    return pos if match is None else match.end()


def _quality(text: str | None, header: str) -> float:
    if text is None:
        return 1.0
    try:
        q = float(text)
    except ValueError:
        q = -1.0
    if not 0.0 <= q <= 1.0:
        raise QueryError(f"Accept {header!r}: q={text!r} is not a number from 0 to 1")
    return q


def _by_quality(accept: Sequence[MediaRange]) -> list[MediaRange]:
    if not accept:
        raise NotAcceptableError("the Accept header refuses every media type (all q=0)")
    return sorted(accept, key=lambda media_range: -media_range.q)


def _asked(accept: Sequence[MediaRange]) -> str:
    return ", ".join(f"'{media_range}'" for media_range in accept)


def _servable(target: str, stored_ts: str, can_serve: Callable[[str], bool] | None) -> bool:
    if target == stored_ts:
        return True
    return _UID.fullmatch(target) is not None and (can_serve is None or can_serve(target))


def _decodes_only(transfer_syntax: str) -> bool:
    return transfer_syntax in NATIVE_TRANSFER_SYNTAXES and transfer_syntax != _BIG_ENDIAN


def choose_instance_transfer_syntax(
    accept: Sequence[MediaRange],
    stored_ts: str,
    *,
    can_serve: Callable[[str], bool] | None = None,
) -> str:
    """Pick the transfer syntax of an instance retrieved as ``application/dicom``.

    Ranges are tried by ``q`` (header order among equals). A range qualifies when it
    covers ``application/dicom`` (``application/dicom``, ``application/*``, ``*/*``)
    or is ``multipart/related`` whose ``type`` is absent or covers it. Its
    ``transfer-syntax`` then decides: ``*`` gives ``stored_ts``, a UID gives that
    UID, none gives Explicit VR Little Endian (PS3.18 8.7.3.5.2).

    Parameters
    ----------
    accept
        Parsed ``Accept`` ranges (see :func:`parse_accept`).
    stored_ts
        Transfer syntax UID the instance is stored in.
    can_serve
        Optional predicate telling whether the instance can be transcoded to a UID;
        a range needing a syntax it refuses is skipped. ``None`` trusts every UID.

    Returns
    -------
    str
        The transfer syntax UID to send.

    Raises
    ------
    NotAcceptableError
        No range qualifies.
    """
    for media_range in _by_quality(accept):
        if media_range.media_type in ("multipart/related", "multipart/*"):
            part_type = media_range.type_param
            if part_type is not None and not _covers(part_type, "application/dicom"):
                continue
        elif not media_range.matches("application/dicom"):
            continue
        asked = media_range.transfer_syntax
        target = stored_ts if asked == "*" else asked or EXPLICIT_VR_LITTLE_ENDIAN
        if _servable(target, stored_ts, can_serve):
            return target
    raise NotAcceptableError(
        f"cannot send the instance (stored as {stored_ts}) as any of {_asked(accept)}; "
        'use application/dicom or multipart/related; type="application/dicom", with '
        "transfer-syntax=* or a transfer syntax this server can produce"
    )


def choose_frame_media_type(
    accept: Sequence[MediaRange],
    stored_ts: str,
    *,
    can_serve: Callable[[str], bool] | None = None,
) -> tuple[str, str]:
    """Pick the media type and transfer syntax of frames or bulk data.

    For each range by ``q``, the wanted media type is the multipart ``type``
    parameter (a ``multipart/related`` range without one counts as ``*/*``) or the
    range itself. Then:

    * ``application/octet-stream``: native pixels, Explicit VR Little Endian, or the
      stored syntax when ``transfer-syntax=*`` and it is native, or a native UID asked;
    * an exact image/video type: with no ``transfer-syntax`` or ``*``, the stored
      syntax if its media type is that one (original bitstream); with a UID, that
      UID if it belongs to the media type;
    * a wildcard (``*/*``, ``image/*``): the stored syntax with its media type when
      covered, or the asked UID with its media type.

    Parameters
    ----------
    accept
        Parsed ``Accept`` ranges.
    stored_ts
        Transfer syntax UID the pixel data is stored in.
    can_serve
        Optional predicate telling whether the frames can be produced in a transfer
        syntax other than ``stored_ts`` (decoding to native included); ranges needing
        a refused one are skipped. ``None`` allows only the stored syntax and native
        little-endian pixels (decoded), no transcoding between compressed syntaxes.

    Returns
    -------
    tuple of str
        ``(media_type, transfer_syntax)``; the media type keeps the spelling the
        client used (``image/x-jls`` stays so) except for wildcards.

    Raises
    ------
    NotAcceptableError
        No range qualifies.
    """
    stored_type = media_type_for_transfer_syntax(stored_ts)
    for media_range in _by_quality(accept):
        wanted = media_range.media_type
        if wanted in ("multipart/related", "multipart/*"):
            wanted = media_range.type_param or "*/*"
        choice = _frame_choice(wanted, media_range.transfer_syntax, stored_ts, stored_type)
        if choice is not None and _servable(choice[1], stored_ts, can_serve or _decodes_only):
            return choice
    raise NotAcceptableError(
        f"cannot send frames stored as {stored_ts} ({stored_type}) as any of {_asked(accept)}; "
        f"use application/octet-stream, {stored_type} or */*"
    )


def _frame_choice(
    wanted: str, asked: str | None, stored_ts: str, stored_type: str
) -> tuple[str, str] | None:
    canonical = canonical_media_type(wanted)
    if canonical == _OCTET_STREAM:
        if asked == "*":
            native = stored_ts in NATIVE_TRANSFER_SYNTAXES
            return _OCTET_STREAM, stored_ts if native else EXPLICIT_VR_LITTLE_ENDIAN
        if asked is None:
            return _OCTET_STREAM, EXPLICIT_VR_LITTLE_ENDIAN
        return (_OCTET_STREAM, asked) if asked in NATIVE_TRANSFER_SYNTAXES else None
    wildcard = canonical.endswith("/*")
    if asked is None or asked == "*":
        if not _covers(canonical, stored_type):
            return None
        return stored_type if wildcard else wanted, stored_ts
    asked_type = TRANSFER_SYNTAX_MEDIA_TYPES.get(asked)
    if asked_type is None or not _covers(canonical, asked_type):
        return None
    return asked_type if wildcard else wanted, asked


def choose_media_type(accept: Sequence[MediaRange], supported: Sequence[str]) -> str:
    """Pick the first of ``supported`` covered by the highest-``q`` range that covers any.

    Parameters
    ----------
    accept
        Parsed ``Accept`` ranges.
    supported
        Media types the resource can be sent as, preferred first (used for wildcards).

    Returns
    -------
    str
        One of ``supported``.

    Raises
    ------
    NotAcceptableError
        No range covers any of ``supported``.
    """
    for media_range in _by_quality(accept):
        for media_type in supported:
            if media_range.matches(media_type):
                return media_type
    raise NotAcceptableError(
        f"this resource is available as {', '.join(supported)}; the request accepts "
        f"only {_asked(accept)}"
    )


def choose_rendered_media_type(
    accept: Sequence[MediaRange], *, supported: Sequence[str] = ("image/jpeg", "image/png")
) -> str:
    """Pick the media type of a rendered image: ``image/jpeg`` unless PNG is preferred.

    Raises
    ------
    NotAcceptableError
        The request accepts none of ``supported``.
    """
    return choose_media_type(accept, supported)
