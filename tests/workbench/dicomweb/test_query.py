"""QIDO-RS query parameters: matching kinds, reserved parameters, errors, helpers."""

from __future__ import annotations

import sqlite3

import pytest
from pydicom.datadict import keyword_for_tag, tag_for_keyword

from workbench.dicomweb.query import (
    DEFAULT_RETURN_KEYS,
    MATCHING_KEYS,
    Match,
    QueryLevel,
    fuzzy_name_match,
    keys_for,
    parse_qido,
    wildcard_to_like,
    wildcard_to_regex,
)
from workbench.errors import QueryError

STUDY, SERIES, INSTANCE = QueryLevel.STUDY, QueryLevel.SERIES, QueryLevel.INSTANCE


def one(key: str, value: str, level: QueryLevel = STUDY) -> Match:
    query = parse_qido([(key, value)], level)
    assert len(query.matches) == 1, query
    return query.matches[0]


def test_defaults() -> None:
    query = parse_qido([], SERIES)
    assert query.level is SERIES
    assert (query.matches, query.include_fields, query.ignored) == ((), (), ())
    assert (query.include_all, query.fuzzy, query.limit, query.offset) == (False, False, None, 0)


def test_keys_per_level() -> None:
    assert "PatientName" in MATCHING_KEYS[STUDY] and "Modality" in MATCHING_KEYS[SERIES]
    assert keys_for(STUDY) == MATCHING_KEYS[STUDY]
    assert keys_for(SERIES) == MATCHING_KEYS[STUDY] | MATCHING_KEYS[SERIES]
    assert keys_for(INSTANCE) == keys_for(SERIES) | {
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
    }
    for keys in MATCHING_KEYS.values():
        assert all(tag_for_keyword(k) is not None for k in keys)


def test_default_return_keys() -> None:
    study = {keyword_for_tag(t) for t in DEFAULT_RETURN_KEYS[STUDY]}
    assert {"StudyInstanceUID", "NumberOfStudyRelatedInstances", "RetrieveURL"} <= study
    assert len(study) == 18
    series = {keyword_for_tag(t) for t in DEFAULT_RETURN_KEYS[SERIES]}
    assert {"SeriesInstanceUID", "NumberOfSeriesRelatedInstances", "Modality"} <= series
    assert len(series) == 11
    instance = {keyword_for_tag(t) for t in DEFAULT_RETURN_KEYS[INSTANCE]}
    assert {"SOPInstanceUID", "Rows", "NumberOfFrames", "InstanceAvailability"} <= instance
    assert len(instance) == 11
    assert all(list(tags) == sorted(tags) for tags in DEFAULT_RETURN_KEYS.values())


def test_single_wildcard_universal_and_person_names() -> None:
    assert one("PatientID", "123") == Match("PatientID", 0x00100020, "single", value="123")
    assert one("PatientName", "Doe^J*").kind == "wildcard"
    assert one("PatientName", "Doe^J*").value == "Doe^J*"
    assert one("AccessionNumber", "A?1").kind == "wildcard"
    assert one("PatientName", "").kind == "universal"
    assert one("PatientName", "*").kind == "universal"
    assert one("00100010", "Doe").keyword == "PatientName"
    assert one("00100010", "Doe").tag == 0x00100010
    assert one("0020000d", "1.2").keyword == "StudyInstanceUID"
    assert one("patientname", "x").keyword == "PatientName"


def test_date_and_time_ranges() -> None:
    assert one("StudyDate", "20200101-20201231") == Match(
        "StudyDate", 0x00080020, "range", low="20200101", high="20201231"
    )
    assert one("StudyDate", "-20201231").low is None
    assert one("StudyDate", "20200101-").high is None
    assert one("StudyDate", "20200229").kind == "single"
    assert one("StudyTime", "0930-10").kind == "range"
    assert one("StudyTime", "093000.123456").kind == "single"
    assert one("StudyDate", "").kind == "universal"
    assert one("PerformedProcedureStepStartTime", "12-13", SERIES).high == "13"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("StudyDate", "2020-13-01", "StudyDate"),
        ("StudyDate", "20200230", "not a date"),
        ("StudyDate", "2020*", "not a date"),
        ("StudyDate", "-", "at least one bound"),
        ("StudyDate", "20210101-20200101", "ends before"),
        ("StudyTime", "2500", "not a time"),
        ("StudyTime", "1260", "not a time"),
        ("StudyTime", "12-11", "ends before"),
        ("PatientBirthDate", "19700101-1970010", "'1970010'"),
        ("StudyInstanceUID", "1.2.abc", "not a UID"),
        ("StudyInstanceUID", "1.2.*", "not a UID"),
        ("StudyInstanceUID", "1." + "2" * 70, "not a UID"),
    ],
)
def test_bad_values_name_the_attribute(key: str, value: str, message: str) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        parse_qido([(key, value)], STUDY)
    assert key in str(caught.value)


def test_uid_lists() -> None:
    assert one("StudyInstanceUID", "1.2.3").kind == "single"
    match = one("StudyInstanceUID", "1.2.3\\1.2.4,1.2.5")
    assert (match.kind, match.values) == ("list", ("1.2.3", "1.2.4", "1.2.5"))
    query = parse_qido([("StudyInstanceUID", "1.2"), ("StudyInstanceUID", "1.3\\1.2")], STUDY)
    assert query.matches == (Match("StudyInstanceUID", 0x0020000D, "list", values=("1.2", "1.3")),)
    with pytest.raises(QueryError, match="PatientID: given more than once"):
        parse_qido([("PatientID", "a"), ("PatientID", "b")], STUDY)
    with pytest.raises(QueryError, match="SOPInstanceUID"):
        parse_qido([("SOPInstanceUID", ""), ("SOPInstanceUID", "1.2")], INSTANCE)


def test_integer_strings() -> None:
    assert one("SeriesNumber", " +3 ", SERIES).value == "3"
    assert one("InstanceNumber", "-2", INSTANCE).value == "-2"
    assert one("InstanceNumber", "", INSTANCE).kind == "universal"
    for bad in ("x", "1.5", "3*", "99999999999"):
        with pytest.raises(QueryError, match="InstanceNumber"):
            parse_qido([("InstanceNumber", bad)], INSTANCE)


def test_levels_and_ignored_keys() -> None:
    query = parse_qido(
        [("Modality", "CT"), ("PatientName", "x"), ("NoSuchKey", "1"), ("00191010", "y")], STUDY
    )
    assert [m.keyword for m in query.matches] == ["PatientName"]
    assert query.ignored == ("Modality", "NoSuchKey", "00191010")
    series = parse_qido([("Modality", "CT"), ("PatientName", "x"), ("SOPClassUID", "1.2")], SERIES)
    assert [m.keyword for m in series.matches] == ["Modality", "PatientName"]
    assert series.ignored == ("SOPClassUID",)
    instance = parse_qido([("SOPClassUID", "1.2"), ("StudyDate", "20200101")], INSTANCE)
    assert len(instance.matches) == 2 and instance.ignored == ()
    sequence = parse_qido([("ReferencedSeriesSequence.SeriesInstanceUID", "1.2")], STUDY)
    assert sequence.ignored == ("ReferencedSeriesSequence.SeriesInstanceUID",)


def test_includefield() -> None:
    query = parse_qido(
        [
            ("includefield", "PatientAge,00101010"),
            ("includefield", "0008103e"),
            ("includeField", "ReferencedSeriesSequence.SeriesInstanceUID"),
            ("includefield", "7777AAAA"),
        ],
        STUDY,
    )
    assert query.include_fields == (0x00101010, 0x0008103E, 0x00081115, 0x7777AAAA)
    assert not query.include_all
    assert parse_qido([("includefield", "all")], STUDY).include_all
    assert parse_qido([("includefield", "ALL,PatientAge")], STUDY).include_fields == (0x00101010,)
    for bad in ("NoSuchKeyword", "0010001", "00100010.", "Patient Age", "0x00100010"):
        with pytest.raises(QueryError, match="includefield") as caught:
            parse_qido([("includefield", bad)], STUDY)
        assert repr(bad) in str(caught.value)


def test_reserved_parameters() -> None:
    query = parse_qido([("fuzzymatching", "TRUE"), ("limit", "25"), ("offset", "50")], STUDY)
    assert (query.fuzzy, query.limit, query.offset) == (True, 25, 50)
    assert not parse_qido([("fuzzymatching", "false")], STUDY).fuzzy
    assert parse_qido([("limit", "0")], STUDY).limit == 0
    assert parse_qido([("limit", "500")], STUDY, max_limit=100).limit == 100
    assert parse_qido([], STUDY, max_limit=100).limit == 100
    assert parse_qido([("limit", "5")], STUDY, max_limit=100).limit == 5


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("limit", "-1"),
        ("limit", "ten"),
        ("limit", "1.5"),
        ("limit", ""),
        ("offset", "-3"),
        ("offset", "9" * 30),
        ("fuzzymatching", "yes"),
    ],
)
def test_bad_reserved_parameters(key: str, value: str) -> None:
    with pytest.raises(QueryError, match=key):
        parse_qido([(key, value)], STUDY)


def test_wildcard_to_like() -> None:
    assert wildcard_to_like("Doe*") == "Doe%"
    assert wildcard_to_like("a?c") == "a_c"
    assert wildcard_to_like("100%_x\\") == "100\\%\\_x\\\\"
    assert wildcard_to_like("a!b%*", escape="!") == "a!!b!%%"
    with pytest.raises(ValueError, match="escape"):
        wildcard_to_like("x", escape="%")


def like(value: str, pattern: str) -> bool:
    with sqlite3.connect(":memory:") as db:
        row = db.execute("SELECT ? LIKE ? ESCAPE '\\'", (value, pattern)).fetchone()
    return bool(row[0])


def test_wildcard_to_like_in_sqlite() -> None:
    assert like("DOE^JOHN", wildcard_to_like("doe*"))
    assert like("100%", wildcard_to_like("100%"))
    assert not like("1000", wildcard_to_like("100%"))
    assert not like("a_b", wildcard_to_like("a\\b"))
    assert like("a\\b", wildcard_to_like("a\\b"))


def test_wildcard_to_regex() -> None:
    assert wildcard_to_regex("doe*").match("DOE^JOHN")
    assert not wildcard_to_regex("doe").search("xdoe")
    assert not wildcard_to_regex("doe").match("doex")
    assert wildcard_to_regex("a?c").fullmatch("a\nc")
    assert wildcard_to_regex("a.c").match("a.c") and not wildcard_to_regex("a.c").match("abc")
    assert wildcard_to_regex("").match("")


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("jo do", "Doe^John", True),
        ("Doe^J", "Doe^John", True),
        ("john", "Doe^John", True),
        ("joh x", "Doe^John", False),
        ("oe", "Doe^John", False),
        ("", "Doe^John", True),
        ("jo*n", "Doe^John", True),
        ("山田", "Yamada^Tarou=山田^太郎", True),
        ("DOE", "", False),
    ],
)
def test_fuzzy_name_match(pattern: str, name: str, expected: bool) -> None:
    assert fuzzy_name_match(pattern, name) is expected
