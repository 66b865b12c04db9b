"""QIDO-RS searches over the index: a parsed :class:`QidoQuery` becomes one SQL query.

Matching (PS3.18 8.3.4 and PS3.4 C.2.2.2): single values match exactly except Person
Names, which match case-insensitively; ``*``/``?`` wildcards; DA/TM ranges with open
ends and prefix-aware upper bounds; UID lists; fuzzy Person Name matching (every query
component is a prefix of some name component, case-insensitive).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.sql.schema import Column

from server.db.models import instances, series, studies
from workbench.dicomweb.query import (
    DEFAULT_RETURN_KEYS,
    Match,
    QidoQuery,
    QueryLevel,
    wildcard_to_like,
)

# keyword -> (column, VR, tag hex)
STUDY_COLUMNS: dict[str, tuple[Column[Any], str, str]] = {
    "StudyDate": (studies.c.study_date, "DA", "00080020"),
    "StudyTime": (studies.c.study_time, "TM", "00080030"),
    "AccessionNumber": (studies.c.accession, "SH", "00080050"),
    "ReferringPhysicianName": (studies.c.referring_physician, "PN", "00080090"),
    "TimezoneOffsetFromUTC": (studies.c.timezone_offset, "SH", "00080201"),
    "StudyDescription": (studies.c.description, "LO", "00081030"),
    "PatientName": (studies.c.patient_name, "PN", "00100010"),
    "PatientID": (studies.c.patient_id, "LO", "00100020"),
    "IssuerOfPatientID": (studies.c.issuer, "LO", "00100021"),
    "PatientBirthDate": (studies.c.birth_date, "DA", "00100030"),
    "PatientSex": (studies.c.sex, "CS", "00100040"),
    "StudyInstanceUID": (studies.c.study_uid, "UI", "0020000D"),
    "StudyID": (studies.c.study_id, "SH", "00200010"),
    "NumberOfStudyRelatedSeries": (studies.c.num_series, "IS", "00201206"),
    "NumberOfStudyRelatedInstances": (studies.c.num_instances, "IS", "00201208"),
}
SERIES_COLUMNS: dict[str, tuple[Column[Any], str, str]] = {
    "Modality": (series.c.modality, "CS", "00080060"),
    "SeriesDescription": (series.c.description, "LO", "0008103E"),
    "BodyPartExamined": (series.c.body_part, "CS", "00180015"),
    "SeriesInstanceUID": (series.c.series_uid, "UI", "0020000E"),
    "SeriesNumber": (series.c.series_number, "IS", "00200011"),
    "PerformedProcedureStepStartDate": (series.c.pps_start_date, "DA", "00400244"),
    "PerformedProcedureStepStartTime": (series.c.pps_start_time, "TM", "00400245"),
    "NumberOfSeriesRelatedInstances": (series.c.num_instances, "IS", "00201209"),
}
INSTANCE_COLUMNS: dict[str, tuple[Column[Any], str, str]] = {
    "SOPClassUID": (instances.c.sop_class_uid, "UI", "00080016"),
    "SOPInstanceUID": (instances.c.sop_uid, "UI", "00080018"),
    "InstanceNumber": (instances.c.instance_number, "IS", "00200013"),
    "Rows": (instances.c.rows, "US", "00280010"),
    "Columns": (instances.c.columns, "US", "00280011"),
    "BitsAllocated": (instances.c.bits_allocated, "US", "00280100"),
    "NumberOfFrames": (instances.c.frames, "IS", "00280008"),
}
LEVEL_COLUMNS = {
    QueryLevel.STUDY: STUDY_COLUMNS,
    QueryLevel.SERIES: SERIES_COLUMNS,
    QueryLevel.INSTANCE: INSTANCE_COLUMNS,
}
_ALL_COLUMNS = {**STUDY_COLUMNS, **SERIES_COLUMNS, **INSTANCE_COLUMNS}
_PRIVATE = frozenset({"pk", "created_at", "account_pk"})
_TAG_TO_KEYWORD = {tag: kw for kw, (_c, _v, tag) in _ALL_COLUMNS.items()}


@dataclass(frozen=True)
class Scope:
    """Where a search runs: all of a level, or under a given study / series; ``visible``
    limits it to the studies the caller may see (``server/db/visibility.py``)."""

    study_uid: str | None = None
    series_uid: str | None = None
    visible: ColumnElement[bool] | None = None


def _match_clause(match: Match, column: Column[Any], vr: str) -> ColumnElement[bool] | None:
    if match.kind == "universal":
        return None
    if match.kind == "list":
        return column.in_(match.values)
    if match.kind == "range":
        clauses: list[ColumnElement[bool]] = [column != ""]
        if match.low:
            clauses.append(column >= match.low)
        if match.high:
            # A partial upper bound ("2016" of DA, "12" of TM) compares the value's prefix;
            # the second, implied bound lets an index serve the range: every character of
            # DA/TM/DT text sorts below "~", so prefix <= high means value <= high + "~".
            clauses.append(func.substr(column, 1, len(match.high)) <= match.high)
            clauses.append(column <= match.high + "~")
        return and_(*clauses)
    if match.kind == "wildcard":
        pattern = wildcard_to_like(match.value)
        if vr == "PN":
            return func.lower(column).like(pattern.lower(), escape="\\")
        return column.like(pattern, escape="\\")
    if vr == "IS":
        return column == int(match.value)
    if vr == "PN":
        return func.lower(column) == match.value.lower()
    return column == match.value


def _fuzzy_clause(value: str, column: Column[Any]) -> ColumnElement[bool]:
    tokens = [t for t in value.replace("^", " ").replace("*", " ").split() if t]
    lowered = func.lower(column)
    parts = []
    for token in tokens:
        t = wildcard_to_like(token.lower())
        parts.append(or_(lowered.like(f"{t}%", escape="\\"), lowered.like(f"%^{t}%", escape="\\"),
                         lowered.like(f"% {t}%", escape="\\")))
    return and_(*parts) if parts else literal(True)


def _filters(query: QidoQuery) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for match in query.matches:
        if match.keyword == "ModalitiesInStudy":
            if match.kind == "universal":
                continue
            wanted = match.values or tuple(
                v for v in match.value.replace(",", "\\").split("\\") if v)
            clauses.append(
                exists().where(series.c.study_pk == studies.c.pk, series.c.modality.in_(wanted))
            )
            continue
        entry = _ALL_COLUMNS.get(match.keyword)
        if entry is None:
            continue
        column, vr, _tag = entry
        if vr == "PN" and query.fuzzy and match.kind in ("single", "wildcard"):
            clauses.append(_fuzzy_clause(match.value, column))
            continue
        clause = _match_clause(match, column, vr)
        if clause is not None:
            clauses.append(clause)
    return clauses


def build_select(query: QidoQuery, scope: Scope) -> Select[Any]:
    """The SQL statement for ``query`` within ``scope`` (ordered, limited)."""
    if query.level is QueryLevel.STUDY:
        stmt = select(studies).order_by(studies.c.study_date.desc(), studies.c.pk)
    elif query.level is QueryLevel.SERIES:
        stmt = (
            select(series, *[c for c in studies.c if c.key not in _PRIVATE])
            .join(studies, series.c.study_pk == studies.c.pk)
            .order_by(series.c.study_pk, series.c.series_number, series.c.pk)
        )
    else:
        stmt = (
            select(
                instances.c.pk, instances.c.sop_uid, instances.c.sop_class_uid,
                instances.c.instance_number, instances.c.rows, instances.c.columns,
                instances.c.bits_allocated, instances.c.frames,
                *[c for c in series.c if c.key not in {"pk", "created_at", "study_pk"}],
                *[c for c in studies.c if c.key not in _PRIVATE],
            )
            .join(series, instances.c.series_pk == series.c.pk)
            .join(studies, instances.c.study_pk == studies.c.pk)
            .order_by(instances.c.series_pk, instances.c.instance_number, instances.c.pk)
        )
    if scope.visible is not None:
        stmt = stmt.where(scope.visible)
    if scope.study_uid is not None:
        stmt = stmt.where(studies.c.study_uid == scope.study_uid)
    if scope.series_uid is not None:
        stmt = stmt.where(series.c.series_uid == scope.series_uid)
    for clause in _filters(query):
        stmt = stmt.where(clause)
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    if query.offset:
        stmt = stmt.offset(query.offset)
    return stmt


def _element(vr: str, value: Any) -> dict[str, Any]:
    """A DICOM JSON attribute from an index column value (multi-values split on ``\\``)."""
    if value is None or value == "":
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [{"Alphabetic": v} for v in value.split("\\")]}
    if vr == "IS":
        return {"vr": vr, "Value": [value]}
    if vr == "CS" and "\\" in value:
        return {"vr": vr, "Value": value.split("\\")}
    return {"vr": vr, "Value": [value]}


def _metadata_for(conn: Connection, level: QueryLevel, rows: Sequence[Any]) -> dict[int, Any]:
    """Representative instance JSON per result row key (study/series pk or instance pk)."""
    if level is QueryLevel.INSTANCE:
        pks = [r.pk for r in rows]
        got = conn.execute(
            select(instances.c.pk, instances.c.metadata_json).where(instances.c.pk.in_(pks))
        )
        return {pk: json.loads(blob) for pk, blob in got}
    owner = instances.c.study_pk if level is QueryLevel.STUDY else instances.c.series_pk
    pks = [r.pk for r in rows]
    first = (
        select(owner.label("owner"), func.min(instances.c.pk).label("ipk"))
        .where(owner.in_(pks)).group_by(owner).subquery()
    )
    got = conn.execute(
        select(first.c.owner, instances.c.metadata_json)
        .join(instances, instances.c.pk == first.c.ipk)
    )
    return {owner_pk: json.loads(blob) for owner_pk, blob in got}


def run_search(conn: Connection, query: QidoQuery, scope: Scope, base_url: str
               ) -> list[dict[str, Any]]:
    """Run a QIDO-RS search and return DICOM JSON results.

    Parameters
    ----------
    conn
        An open index connection.
    query
        The parsed query.
    scope
        Parent study / series for nested searches.
    base_url
        Absolute URL of the DICOMweb root, for RetrieveURL.
    """
    rows = conn.execute(build_select(query, scope)).fetchall()
    if not rows:
        return []
    level = query.level
    wanted_keywords: list[str] = []
    for default_tag in DEFAULT_RETURN_KEYS[level]:
        kw = _TAG_TO_KEYWORD.get(f"{default_tag:08X}")
        if kw:
            wanted_keywords.append(kw)
    if level is not QueryLevel.STUDY:
        # PS3.18 10.6.3.3: a search of all series/instances also returns study identity
        wanted_keywords += ["StudyInstanceUID"]
    if level is QueryLevel.INSTANCE:
        wanted_keywords += ["SeriesInstanceUID", "Modality", "SeriesNumber"]
    extra_tags: set[str] = set()
    for match in query.matches:
        if match.keyword in _ALL_COLUMNS:
            wanted_keywords.append(match.keyword)
        else:
            extra_tags.add(f"{match.tag:08X}")
    for field_tag in query.include_fields:
        hexed = f"{field_tag:08X}"
        if hexed in _TAG_TO_KEYWORD:
            wanted_keywords.append(_TAG_TO_KEYWORD[hexed])
        else:
            extra_tags.add(hexed)
    modalities: dict[int, list[str]] = {}
    if level is QueryLevel.STUDY:
        got = conn.execute(
            select(series.c.study_pk, series.c.modality).distinct()
            .where(series.c.study_pk.in_([r.pk for r in rows]))
            .order_by(series.c.study_pk, series.c.modality)
        )
        for study_pk, modality in got:
            if modality:
                modalities.setdefault(study_pk, []).append(modality)
    metadata = _metadata_for(conn, level, rows) if (extra_tags or query.include_all) else {}
    # one plan per search: (tag, VR, position in the row), in tag order
    keys = list(rows[0]._fields)
    plan = sorted(
        (tag_hex, vr, keys.index(column.key) if column.key in keys else -1)
        for tag_hex, vr, column in (
            (_ALL_COLUMNS[kw][2], _ALL_COLUMNS[kw][1], _ALL_COLUMNS[kw][0])
            for kw in dict.fromkeys(wanted_keywords)
        )
    )
    at_study, at_series, at_sop = (keys.index("study_uid"), keys.index("series_uid")
                                   if "series_uid" in keys else -1,
                                   keys.index("sop_uid") if "sop_uid" in keys else -1)
    pk_at = keys.index("pk")
    results = []
    for row in rows:
        item: dict[str, Any] = {}
        for tag_hex, vr, at in plan:
            item[tag_hex] = _element(vr, row[at] if at >= 0 else None)
        if level is QueryLevel.STUDY:
            found = modalities.get(row[pk_at])
            item["00080061"] = {"vr": "CS", "Value": found} if found else {"vr": "CS"}
        url = f"{base_url}/studies/{row[at_study]}"
        if level is not QueryLevel.STUDY:
            url += f"/series/{row[at_series]}"
        if level is QueryLevel.INSTANCE:
            url += f"/instances/{row[at_sop]}"
        item["00081190"] = {"vr": "UR", "Value": [url]}
        item["00080056"] = {"vr": "CS", "Value": ["ONLINE"]}
        source = metadata.get(row[pk_at])
        if source:
            if query.include_all:
                for tag, element in source.items():
                    if tag not in item and "BulkDataURI" not in element and (
                        level is QueryLevel.INSTANCE or _belongs(tag, level)
                    ):
                        item[tag] = element
            for tag in extra_tags:
                if tag in source and "BulkDataURI" not in source[tag]:
                    item[tag] = source[tag]
        results.append(dict(sorted(item.items())))
    return results


_STUDY_GROUPS = ("0010",)
_STUDY_TAGS = {
    "00080020", "00080030", "00080050", "00080051", "00080090", "00081030", "00081032",
    "00081060", "0020000D", "00200010", "00321032", "00321060", "00080005", "00080201",
}
_SERIES_TAGS = {
    "00080021", "00080031", "00080060", "0008103E", "00081070", "00180015", "0020000E",
    "00200011", "00200060", "00400244", "00400245", "00400275", "00080070", "00081090",
    "00181030", "00200052", "00080005",
}


def _belongs(tag: str, level: QueryLevel) -> bool:
    if level is QueryLevel.STUDY:
        return tag[:4] in _STUDY_GROUPS or tag in _STUDY_TAGS
    return tag in _SERIES_TAGS or tag[:4] in _STUDY_GROUPS or tag in _STUDY_TAGS
