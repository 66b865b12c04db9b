"""C-FIND (PS3.4 C.4.1) over the QIDO-RS SQL, so an AE sees exactly what its account sees.

A request identifier becomes QIDO-RS query parameters: every non-empty attribute that
the level can match on is a matching key (same matching rules: wildcards, DA/TM ranges,
UID lists, case-insensitive Person Names), every other attribute is a return key
(``includefield``). The search runs through :func:`server.db.qido.run_search` within
``Scope(visible=visible_studies(principal))``; each DICOM JSON result becomes a response
identifier holding exactly the requested attributes (empty when unknown).

Levels: STUDY, SERIES and IMAGE map to the QIDO levels; PATIENT (patient root only) is
the study search folded per Patient ID and issuer, with the patient-level counts.
Sequence matching is not supported: sequences are returned empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from sqlalchemy import Connection

from server.auth.permissions import Principal
from server.db.qido import Scope, run_search
from server.db.visibility import visible_studies
from workbench.dicomweb.query import QueryLevel, keys_for, parse_qido
from workbench.errors import QueryError

LEVELS = {"STUDY": QueryLevel.STUDY, "SERIES": QueryLevel.SERIES, "IMAGE": QueryLevel.INSTANCE}
QUERY_RETRIEVE_LEVEL = 0x00080052
SPECIFIC_CHARACTER_SET = 0x00080005
RETRIEVE_AE_TITLE = 0x00080054
PATIENT_COUNTS: dict[int, tuple[str, Callable[[list[int]], int]]] = {
    0x00201200: ("00201206", len),  # NumberOfPatientRelatedStudies <- count of studies
    0x00201202: ("00201206", sum),  # NumberOfPatientRelatedSeries <- sum of study series
    0x00201204: ("00201208", sum),  # NumberOfPatientRelatedInstances
}
PATIENT_KEYS = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate",
                "PatientSex")
_BASE = "dimse:"  # RetrieveURL base in QIDO answers; never returned over DIMSE


def query_text(element: DataElement) -> str:
    """An identifier value as QIDO-RS query text (multiple values joined with ``\\``)."""
    value = element.value
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def query_level(identifier: Dataset, model: str) -> str:
    """The Query/Retrieve Level of a request, checked against the information model.

    Raises
    ------
    QueryError
        The level is missing, unknown, or PATIENT in the study root model.
    """
    level = str(identifier.get("QueryRetrieveLevel", "")).strip().upper()
    allowed = ("PATIENT", *LEVELS) if model == "patient" else tuple(LEVELS)
    if level not in allowed:
        raise QueryError(f"QueryRetrieveLevel {level!r} is not one of {', '.join(allowed)} "
                         f"in the {model} root information model")
    return level


def to_params(identifier: Dataset, level: QueryLevel) -> tuple[list[tuple[str, str]],
                                                               list[int]]:
    """QIDO-RS parameters for an identifier, and the tags it asks to be returned."""
    matchable = keys_for(level)
    params: list[tuple[str, str]] = []
    requested: list[int] = []
    for element in identifier:
        tag = int(element.tag)
        if tag >> 16 in (0x0000, 0x0002) or tag in (QUERY_RETRIEVE_LEVEL,
                                                   SPECIFIC_CHARACTER_SET):
            continue
        requested.append(tag)
        value = "" if element.VR == "SQ" else query_text(element)
        if value and element.keyword in matchable:
            params.append((element.keyword, value))
        elif element.VR != "SQ":
            params.append(("includefield", f"{tag:08X}"))
    return params, requested


def _has_text(element: dict[str, Any]) -> bool:
    for value in element.get("Value", ()):
        if isinstance(value, dict):
            value = value.get("Alphabetic", "")
        if isinstance(value, str) and not value.isascii():
            return True
    return False


def response_identifier(item: dict[str, Any], requested: list[int], level: str,
                        retrieve_ae: str) -> Dataset:
    """The response identifier: exactly the requested attributes, from a DICOM JSON item.

    Attributes the item lacks (or holds as bulk data) are returned empty.
    """
    chosen: dict[str, Any] = {}
    for tag in requested:
        key = f"{tag:08X}"
        if tag == RETRIEVE_AE_TITLE:
            chosen[key] = {"vr": "AE", "Value": [retrieve_ae]}
            continue
        element = item.get(key)
        if element is None or "BulkDataURI" in element or "InlineBinary" in element:
            element = {"vr": _empty_vr(tag)}
        chosen[key] = element
    ds = Dataset.from_json(chosen)
    if any(_has_text(e) for e in chosen.values()):
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.QueryRetrieveLevel = level
    return ds


def _empty_vr(tag: int) -> str:
    """The VR of an empty attribute: the dictionary's (its first if ambiguous), else UN."""
    try:
        return str(dictionary_VR(tag)).split(" or ")[0]
    except KeyError:
        return "UN"


def search(conn: Connection, identifier: Dataset, model: str, principal: Principal, *,
           retrieve_ae: str, max_results: int | None = None) -> Iterator[Dataset]:
    """The C-FIND matches of ``identifier`` that ``principal`` may see, as identifiers.

    Parameters
    ----------
    conn
        An open index connection.
    identifier
        The request identifier.
    model
        ``"patient"`` or ``"study"`` (root information model of the request).
    principal
        The calling source (with its query/retrieve permission).
    retrieve_ae
        The listener's AE title, for Retrieve AE Title (0008,0054).
    max_results
        Most matches returned (the QIDO-RS limit).

    Raises
    ------
    QueryError
        A malformed identifier (level, date range, UID, integer).
    """
    level = query_level(identifier, model)
    scope = Scope(visible=visible_studies(principal))
    if level == "PATIENT":
        yield from _patients(conn, identifier, scope, retrieve_ae, max_results)
        return
    params, requested = to_params(identifier, LEVELS[level])
    query = parse_qido(params, LEVELS[level], max_limit=max_results)
    for item in run_search(conn, query, scope, _BASE):
        yield response_identifier(item, requested, level, retrieve_ae)


def _patients(conn: Connection, identifier: Dataset, scope: Scope, retrieve_ae: str,
              max_results: int | None) -> Iterator[Dataset]:
    """PATIENT level: the study search folded per (Patient ID, issuer)."""
    params, requested = to_params(identifier, QueryLevel.STUDY)
    params = [(k, v) for k, v in params if k in PATIENT_KEYS or k == "includefield"]
    params += [("includefield", "00201206"), ("includefield", "00201208")]
    query = parse_qido(params, QueryLevel.STUDY)
    folders: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in run_search(conn, query, scope, _BASE):
        key = (_first(item, "00100020"), _first(item, "00100021"))
        folders.setdefault(key, []).append(item)
    for count, studies in enumerate(folders.values()):
        if max_results is not None and count >= max_results:
            return
        item = dict(studies[0])
        for tag, (source, combine) in PATIENT_COUNTS.items():
            numbers = [int(_first(s, source) or 0) for s in studies]
            item[f"{tag:08X}"] = {"vr": "IS", "Value": [combine(numbers)]}
        yield response_identifier(item, requested, "PATIENT", retrieve_ae)


def _first(item: dict[str, Any], tag: str) -> str:
    values = item.get(tag, {}).get("Value") or [""]
    value = values[0]
    if isinstance(value, dict):
        return str(value.get("Alphabetic", ""))
    return "" if value is None else str(value)
