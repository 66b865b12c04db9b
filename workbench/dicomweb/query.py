"""QIDO-RS query parameters (PS3.18 8.3.4 and 10.6) parsed into a typed query.

:func:`parse_qido` turns the (already percent-decoded) query parameters of a
``GET .../studies``, ``.../series`` or ``.../instances`` request into a
:class:`QidoQuery`: matching keys (:class:`Match`), ``includefield``,
``fuzzymatching``, ``limit`` and ``offset``. Matching follows PS3.4 C.2.2.2:

* an empty value, or ``*`` alone on a non date/time attribute, is *universal*;
* DA, TM and DT values may be ranges ``a-b``, ``-b`` or ``a-`` (bounds inclusive);
* UI values may be lists separated by ``\\`` or ``,`` (or the key repeated);
* values with ``*`` or ``?`` are *wildcard* matches (not for UI, DA, TM, DT);
* IS values must be integers; PN values keep their ``^`` separators.

Matching keys that the level does not support, unknown keywords and sequence
paths are not errors: their names are listed in :attr:`QidoQuery.ignored` so the
server can answer with a ``Warning`` header (PS3.18 8.3.4.3).
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from workbench.dicomweb._matching import fuzzy_name_match, wildcard_to_like, wildcard_to_regex
from workbench.errors import QueryError

__all__ = [
    "DEFAULT_RETURN_KEYS",
    "MATCHING_KEYS",
    "Match",
    "MatchKind",
    "QidoQuery",
    "QueryLevel",
    "fuzzy_name_match",
    "keys_for",
    "parse_qido",
    "wildcard_to_like",
    "wildcard_to_regex",
]

MatchKind = Literal["single", "wildcard", "range", "list", "universal"]


class QueryLevel(enum.Enum):
    """The QIDO-RS resource searched."""

    STUDY = "study"
    SERIES = "series"
    INSTANCE = "instance"


@dataclass(frozen=True)
class Match:
    """One matching key of a query.

    Attributes
    ----------
    keyword
        DICOM keyword, e.g. ``"PatientName"``.
    tag
        The attribute tag, e.g. ``0x00100010``.
    kind
        ``"single"``, ``"wildcard"``, ``"range"``, ``"list"`` or ``"universal"``.
    value
        The value of a single or wildcard match (wildcards are ``*`` and ``?``).
    low, high
        The inclusive bounds of a range match; ``None`` is open.
    values
        The UIDs of a list match.
    """

    keyword: str
    tag: int
    kind: MatchKind
    value: str = ""
    low: str | None = None
    high: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class QidoQuery:
    """A parsed QIDO-RS request.

    Attributes
    ----------
    level
        What is searched.
    matches
        The matching keys, in request order.
    include_fields
        Tags asked for with ``includefield`` (first tag of a sequence path).
    include_all
        ``includefield=all`` was given.
    fuzzy
        ``fuzzymatching=true`` was given (see :func:`fuzzy_name_match`).
    limit
        Maximum number of results, ``None`` for no limit.
    offset
        Number of results to skip.
    ignored
        Names of parameters that are not supported at this level and were ignored.
    """

    level: QueryLevel
    matches: tuple[Match, ...]
    include_fields: tuple[int, ...]
    include_all: bool
    fuzzy: bool
    limit: int | None
    offset: int
    ignored: tuple[str, ...]


MATCHING_KEYS: Final[Mapping[QueryLevel, frozenset[str]]] = {
    QueryLevel.STUDY: frozenset(
        {
            "StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy",
            "ReferringPhysicianName", "PatientName", "PatientID", "IssuerOfPatientID",
            "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
            "StudyDescription",
        }
    ),
    QueryLevel.SERIES: frozenset(
        {
            "Modality", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription",
            "BodyPartExamined", "PerformedProcedureStepStartDate",
            "PerformedProcedureStepStartTime",
        }
    ),
    QueryLevel.INSTANCE: frozenset({"SOPClassUID", "SOPInstanceUID", "InstanceNumber"}),
}  # fmt: skip
"""The matching keys owned by each level (the attributes stored at that level)."""

_ALLOWED: Final = {
    QueryLevel.STUDY: MATCHING_KEYS[QueryLevel.STUDY],
    QueryLevel.SERIES: MATCHING_KEYS[QueryLevel.STUDY] | MATCHING_KEYS[QueryLevel.SERIES],
    QueryLevel.INSTANCE: frozenset().union(*MATCHING_KEYS.values()),
}
_BY_FOLDED: Final = {k.casefold(): k for keys in MATCHING_KEYS.values() for k in keys}


def keys_for(level: QueryLevel) -> frozenset[str]:
    """Return the matching keys a query at `level` may use.

    Parameters
    ----------
    level
        The level searched.

    Returns
    -------
    frozenset of str
        The level's own keys plus those of the levels above it (searching all
        series or instances may match on study and series attributes).
    """
    return _ALLOWED[level]


def _tags(*keywords: str) -> tuple[int, ...]:
    tags = [tag_for_keyword(k) for k in keywords]
    if None in tags:  # pragma: no cover - guards a typo in the lists below
        raise RuntimeError(f"unknown keyword in {keywords}")
    return tuple(sorted(t for t in tags if t is not None))


DEFAULT_RETURN_KEYS: Final[Mapping[QueryLevel, tuple[int, ...]]] = {
    QueryLevel.STUDY: _tags(
        "SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber",
        "InstanceAvailability", "ModalitiesInStudy", "ReferringPhysicianName",
        "TimezoneOffsetFromUTC", "RetrieveURL", "PatientName", "PatientID",
        "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
        "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "StudyDescription",
    ),
    QueryLevel.SERIES: _tags(
        "SpecificCharacterSet", "Modality", "TimezoneOffsetFromUTC", "SeriesDescription",
        "RetrieveURL", "SeriesInstanceUID", "SeriesNumber", "NumberOfSeriesRelatedInstances",
        "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
        "BodyPartExamined",
    ),
    QueryLevel.INSTANCE: _tags(
        "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "InstanceAvailability",
        "TimezoneOffsetFromUTC", "RetrieveURL", "InstanceNumber", "Rows", "Columns",
        "BitsAllocated", "NumberOfFrames",
    ),
}  # fmt: skip
"""Attributes returned by default at each level (PS3.18 Tables 10.6.3-3, -4, -5), sorted."""

_HEX_TAG: Final = re.compile(r"[0-9A-Fa-f]{8}")
_KEYWORD: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_UID: Final = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_DIGITS: Final = re.compile(r"[0-9]+")
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")
_TM: Final = re.compile(r"([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:\.[0-9]{1,6})?)?)?")
_DT: Final = re.compile(r"([0-9]{4,14}(?:\.[0-9]{1,6})?)([+-][0-9]{4})?")
_RESERVED: Final = frozenset({"includefield", "fuzzymatching", "limit", "offset"})


def _is_da(value: str) -> bool:
    if not _DIGITS.fullmatch(value) or len(value) != 8:
        return False
    try:
        _dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return False
    return True


def _is_tm(value: str) -> bool:
    found = _TM.fullmatch(value)
    if found is None:
        return False
    hours, minutes, seconds = found.groups()
    return int(hours) <= 23 and int(minutes or 0) <= 59 and int(seconds or 0) <= 60


def _is_dt(value: str) -> bool:
    return _DT.fullmatch(value) is not None


_DATE_TIME: Final = {
    "DA": (_is_da, "a date (YYYYMMDD)"),
    "TM": (_is_tm, "a time (HH[MM[SS[.ffffff]]])"),
    "DT": (_is_dt, "a date-time (YYYY[MMDDHHMMSS[.ffffff]][&ZZXX])"),
}


def _range_ordered(vr: str, low: str, high: str) -> bool:
    if vr == "TM":
        low, high = low.split(".")[0].ljust(6, "0"), high.split(".")[0].ljust(6, "0")
    elif vr == "DT":
        return True  # offsets make a plain comparison wrong; let the data decide
    return low <= high


def _date_time_match(keyword: str, tag: int, vr: str, value: str) -> Match:
    valid, form = _DATE_TIME[vr]
    if "-" not in value or (vr == "DT" and valid(value)):
        if not valid(value):
            raise QueryError(f"{keyword}: {value!r} is not {form}")
        return Match(keyword, tag, "single", value=value)
    low, _, high = value.partition("-")
    if not low and not high:
        raise QueryError(f"{keyword}: a range needs at least one bound, got {value!r}")
    for bound in (low, high):
        if bound and not valid(bound):
            raise QueryError(f"{keyword}: in range {value!r}, {bound!r} is not {form}")
    if low and high and not _range_ordered(vr, low, high):
        raise QueryError(f"{keyword}: range {value!r} ends before it starts")
    return Match(keyword, tag, "range", low=low or None, high=high or None)


def _uid_values(keyword: str, value: str) -> list[str]:
    uids = [v.strip() for v in re.split(r"[\\,]", value) if v.strip()]
    if not uids:
        raise QueryError(f"{keyword}: {value!r} holds separators but no UID")
    for uid in uids:
        if len(uid) > 64 or not _UID.fullmatch(uid):
            raise QueryError(f"{keyword}: {uid!r} is not a UID")
    return uids


def _match(keyword: str, tag: int, value: str) -> Match:
    """Classify one matching key's value (see the module docstring)."""
    vr = dictionary_VR(tag)
    value = value.strip()
    if not value or (value == "*" and vr not in ("DA", "TM", "DT")):
        return Match(keyword, tag, "universal")
    if vr in ("DA", "TM", "DT"):
        return _date_time_match(keyword, tag, vr, value)
    if vr == "UI":
        uids = _uid_values(keyword, value)
        if len(uids) == 1:
            return Match(keyword, tag, "single", value=uids[0])
        return Match(keyword, tag, "list", values=tuple(uids))
    if vr == "IS":
        number = int(value) if _INTEGER.fullmatch(value) and len(value) <= 12 else None
        if number is None or not -(2**31) <= number < 2**31:
            raise QueryError(f"{keyword}: {value!r} is not an integer (IS)")
        return Match(keyword, tag, "single", value=str(number))
    if "*" in value or "?" in value:
        return Match(keyword, tag, "wildcard", value=value)
    return Match(keyword, tag, "single", value=value)


def _resolve_tag(part: str, item: str) -> int:
    """Return the tag of a keyword or 8-hex-digit tag; raise QueryError if neither."""
    if _HEX_TAG.fullmatch(part):
        return int(part, 16)
    tag = tag_for_keyword(part) if _KEYWORD.fullmatch(part) else None
    if tag is None:
        where = "" if part == item else f" (in {item!r})"
        raise QueryError(f"includefield: {part!r}{where} is not a DICOM keyword or tag")
    return tag


def _matching_keyword(key: str, allowed: frozenset[str]) -> tuple[str, int] | None:
    """Return (keyword, tag) of a supported matching key, else None."""
    if _HEX_TAG.fullmatch(key):
        keyword = keyword_for_tag(int(key, 16))
    else:
        keyword = _BY_FOLDED.get(key.casefold(), "")
    if keyword not in allowed:
        return None
    tag = tag_for_keyword(keyword)
    return None if tag is None else (keyword, tag)


def _non_negative(name: str, value: str) -> int:
    text = value.strip()
    if not _DIGITS.fullmatch(text):
        raise QueryError(f"{name}: {value!r} is not a non-negative integer")
    if len(text.lstrip("0")) > 12:
        raise QueryError(f"{name}: {value!r} is too large")
    return int(text)


def parse_qido(
    params: Sequence[tuple[str, str]], level: QueryLevel, *, max_limit: int | None = None
) -> QidoQuery:
    """Parse QIDO-RS query parameters.

    Parameters
    ----------
    params
        Percent-decoded ``(key, value)`` pairs in request order; keys may repeat.
    level
        The level searched.
    max_limit
        The server's largest page: a larger or missing ``limit`` becomes this.

    Returns
    -------
    QidoQuery
        The parsed query.

    Raises
    ------
    QueryError
        If a value is malformed: a bad date, time, UID or integer, a malformed
        ``includefield`` item, a ``fuzzymatching`` other than true/false, a
        negative or non-numeric ``limit``/``offset``, or a matching key given
        twice (except UI keys, whose values are merged into a list).
    """
    allowed = keys_for(level)
    matches: dict[str, Match] = {}
    include: dict[int, None] = {}
    include_all = fuzzy = False
    limit: int | None = None
    offset = 0
    ignored: list[str] = []
    for key, value in params:
        name = key.strip()
        reserved = name.lower()
        if reserved == "includefield":
            for item in (v.strip() for v in value.split(",")):
                if item.lower() == "all":
                    include_all = True
                elif item:  # a sequence path "Seq.Attr" includes the whole sequence
                    path = [_resolve_tag(part, item) for part in item.split(".")]
                    include.setdefault(path[0], None)
        elif reserved == "fuzzymatching":
            if value.strip().lower() not in ("true", "false"):
                raise QueryError(f"fuzzymatching: {value!r} is not true or false")
            fuzzy = value.strip().lower() == "true"
        elif reserved == "limit":
            limit = _non_negative("limit", value)
        elif reserved == "offset":
            offset = _non_negative("offset", value)
        else:
            found = _matching_keyword(name, allowed)
            if found is None:
                ignored.append(name)
                continue
            keyword, tag = found
            match = _match(keyword, tag, value)
            previous = matches.get(keyword)
            if previous is not None:
                match = _merge(previous, match)
            matches[keyword] = match
    if max_limit is not None and (limit is None or limit > max_limit):
        limit = max_limit
    return QidoQuery(
        level=level,
        matches=tuple(matches.values()),
        include_fields=tuple(include),
        include_all=include_all,
        fuzzy=fuzzy,
        limit=limit,
        offset=offset,
        ignored=tuple(dict.fromkeys(ignored)),
    )


def _merge(first: Match, second: Match) -> Match:
    """Combine a repeated UI key into one list match; other repeats are errors."""
    if dictionary_VR(first.tag) != "UI":
        raise QueryError(f"{first.keyword}: given more than once")
    if "universal" in (first.kind, second.kind):
        raise QueryError(f"{first.keyword}: an empty value cannot be combined with others")
    values = tuple(dict.fromkeys((*first.values, first.value, *second.values, second.value)))
    values = tuple(v for v in values if v)
    if len(values) == 1:
        return Match(first.keyword, first.tag, "single", value=values[0])
    return Match(first.keyword, first.tag, "list", values=values)
