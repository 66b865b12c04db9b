"""Properties of the QIDO-RS parameter parser and the wildcard helpers."""

from __future__ import annotations

import datetime as dt
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.dicomweb.query import (
    MATCHING_KEYS,
    QueryLevel,
    fuzzy_name_match,
    parse_qido,
    wildcard_to_like,
    wildcard_to_regex,
)
from workbench.errors import QueryError

_KEYWORDS = sorted(k for keys in MATCHING_KEYS.values() for k in keys)
_keys = st.one_of(
    st.sampled_from(["includefield", "IncludeField", "fuzzymatching", "limit", "offset"]),
    st.sampled_from(_KEYWORDS),
    st.sampled_from(["00100010", "0020000d", "00080020", "00200011", "7FE00010", "xyz"]),
    st.from_regex(r"[0-9A-Fa-f]{8}", fullmatch=True),
    st.text(max_size=12),
)
_fragments = st.sampled_from(
    ["", "-", "*", "?", "\\", ",", ".", "all", "true", "1", "0", "20200101", "2020",
     "1231", "093000", ".123", "1.2.3", "PatientName", "00100010", " ", "^", "99999"]
)  # fmt: skip
_values = st.lists(_fragments | st.text(max_size=6), max_size=5).map("".join)
_params = st.lists(st.tuples(_keys, _values), max_size=8)
_levels = st.sampled_from(list(QueryLevel))


@settings(max_examples=600, deadline=None)
@given(_params, _levels, st.none() | st.integers(0, 1000))
def test_parses_or_raises_query_error(
    params: list[tuple[str, str]], level: QueryLevel, max_limit: int | None
) -> None:
    try:
        query = parse_qido(params, level, max_limit=max_limit)
    except QueryError as exc:
        assert str(exc)
        return
    assert query.level is level
    assert len({m.keyword for m in query.matches}) == len(query.matches)
    assert query.offset >= 0 and (query.limit is None or query.limit >= 0)
    if max_limit is not None:
        assert query.limit is not None and query.limit <= max_limit
    for match in query.matches:
        assert match.kind in ("single", "wildcard", "range", "list", "universal")
        assert match.kind != "range" or (match.low, match.high) != (None, None)
        assert match.kind != "list" or len(match.values) >= 2


_dates = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(
    lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}"
)


@given(st.none() | _dates, st.none() | _dates)
def test_date_ranges_round_trip(low: str | None, high: str | None) -> None:
    text = f"{low or ''}-{high or ''}"
    try:
        query = parse_qido([("StudyDate", text)], QueryLevel.STUDY)
    except QueryError:
        assert (low, high) == (None, None) or (low and high and low > high)
        return
    match = query.matches[0]
    assert (match.kind, match.low, match.high) == ("range", low, high)


_times = st.times().map(lambda t: t.strftime("%H%M%S.%f")) | st.from_regex(
    r"([01][0-9]|2[0-3])([0-5][0-9]([0-5][0-9])?)?", fullmatch=True
)


@given(_times, _times)
def test_time_ranges_round_trip(first: str, second: str) -> None:
    low, high = sorted((first, second), key=lambda t: t.split(".")[0].ljust(6, "0"))
    match = parse_qido([("StudyTime", f"{low}-{high}")], QueryLevel.STUDY).matches[0]
    assert (match.kind, match.low, match.high) == ("range", low, high)


_DB = sqlite3.connect(":memory:", check_same_thread=False)
_pattern_chars = st.sampled_from(list("aAbB*?%_\\.^ "))
_patterns = st.text(_pattern_chars, max_size=8)
_fillers = st.text(st.sampled_from(list("abAB%_\\.^ ")), max_size=3)


@st.composite
def _pattern_and_candidate(draw: st.DrawFn) -> tuple[str, str]:
    pattern = draw(_patterns)
    if draw(st.booleans()):  # a likely match: fill in the wildcards
        out = []
        for char in pattern:
            if char == "*":
                out.append(draw(_fillers))
            elif char == "?":
                out.append(draw(st.sampled_from(list("aB%_\\"))))
            else:
                out.append(char.swapcase() if draw(st.booleans()) else char)
        return pattern, "".join(out)
    return pattern, draw(st.text(st.sampled_from(list("aAbB%_\\.^ ")), max_size=8))


@settings(max_examples=800, deadline=None)
@given(_pattern_and_candidate())
def test_like_and_regex_agree(case: tuple[str, str]) -> None:
    pattern, candidate = case
    (like,) = _DB.execute(
        "SELECT ? LIKE ? ESCAPE '\\'", (candidate, wildcard_to_like(pattern))
    ).fetchone()
    assert bool(like) == bool(wildcard_to_regex(pattern).match(candidate))


_letters = st.characters(categories=["Lu", "Ll", "Lo"])
_names = st.lists(st.text(_letters, min_size=1, max_size=6), min_size=1, max_size=4).map("^".join)


@given(_names, st.data())
def test_fuzzy_matches_word_prefixes_in_any_order(name: str, data: st.DataObject) -> None:
    words = name.split("^")
    picked = data.draw(st.lists(st.sampled_from(words), max_size=3))
    prefixes = [w[: data.draw(st.integers(1, len(w)))] for w in picked]
    pattern = " ".join(reversed(prefixes)).upper()
    assert fuzzy_name_match(pattern, name)
    assert fuzzy_name_match(name, name)
