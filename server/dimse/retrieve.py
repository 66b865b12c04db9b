"""C-MOVE and C-GET (PS3.4 C.4.2, C.4.3): which instances, and how each one is sent.

The instances are selected with the QIDO-RS SQL at instance level, within what the caller
may see, from the unique keys of the request identifier (Patient ID at PATIENT level,
then Study, Series and SOP Instance UIDs, each a single UID or a list). They are sent as
stored when the receiving association accepted that transfer syntax, otherwise
decompressed to a native syntax (pixel data decoded by pydicom's handlers); an instance
that can be sent neither way counts as a failed sub-operation.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom.presentation import PresentationContext
from sqlalchemy import Connection, select

from server.auth.permissions import Principal
from server.db.models import instances
from server.db.qido import Scope, build_select
from server.db.visibility import visible_studies
from server.dimse.contexts import NATIVE_SYNTAXES, accepts
from server.dimse.find import query_text
from server.storage.local import LocalBlobStore
from workbench.dicomweb.query import QueryLevel, parse_qido
from workbench.errors import QueryError

UNIQUE_KEYS = (("PATIENT", "PatientID"), ("STUDY", "StudyInstanceUID"),
               ("SERIES", "SeriesInstanceUID"), ("IMAGE", "SOPInstanceUID"))
MAX_SUBOPERATIONS = 65535  # the Number of ... Sub-operations attributes are US


@dataclass(frozen=True)
class Match:
    """One instance to send."""

    sop_uid: str
    sop_class_uid: str
    study_uid: str
    transfer_syntax: str
    blob: str


def retrieve_level(identifier: Dataset, model: str) -> str:
    """The Query/Retrieve Level of a C-MOVE/C-GET, checked against the model."""
    level = str(identifier.get("QueryRetrieveLevel", "")).strip().upper()
    allowed = [lvl for lvl, _ in UNIQUE_KEYS if model == "patient" or lvl != "PATIENT"]
    if level not in allowed:
        raise QueryError(f"QueryRetrieveLevel {level!r} is not one of {', '.join(allowed)} "
                         f"in the {model} root information model")
    return level


def unique_key_params(identifier: Dataset, level: str) -> list[tuple[str, str]]:
    """The QIDO-RS matching parameters of the unique keys down to ``level``.

    Raises
    ------
    QueryError
        The unique key of ``level`` itself is missing or empty.
    """
    params = []
    for key_level, keyword in UNIQUE_KEYS:
        value = query_text(identifier[keyword]).strip() if keyword in identifier else ""
        if value:
            params.append((keyword, value))
        elif key_level == level:
            raise QueryError(f"{keyword} is required to retrieve at the {level} level")
        if key_level == level:
            return params
    return params


def select_instances(conn: Connection, identifier: Dataset, model: str,
                     principal: Principal) -> list[Match]:
    """The visible instances a C-MOVE/C-GET identifier names, in series/instance order.

    Raises
    ------
    QueryError
        Malformed identifier, or more than 65535 instances (the sub-operation counts are
        US values; retrieve per series instead).
    """
    level = retrieve_level(identifier, model)
    query = parse_qido(unique_key_params(identifier, level), QueryLevel.INSTANCE)
    stmt = build_select(query, Scope(visible=visible_studies(principal)))
    rows = conn.execute(stmt.limit(MAX_SUBOPERATIONS + 1)).fetchall()
    if len(rows) > MAX_SUBOPERATIONS:
        raise QueryError(f"more than {MAX_SUBOPERATIONS} instances match; retrieve a "
                         "narrower level (series)")
    order = {row.pk: position for position, row in enumerate(rows)}
    studies = {row.pk: row.study_uid for row in rows}
    found: list[tuple[int, Match]] = []
    pks = list(order)
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        for pk, sop, sop_class, syntax, blob in conn.execute(
                select(instances.c.pk, instances.c.sop_uid, instances.c.sop_class_uid,
                       instances.c.transfer_syntax, instances.c.blob)
                .where(instances.c.pk.in_(chunk))):
            found.append((order[pk], Match(sop, sop_class, studies[pk], syntax, blob)))
    return [match for _, match in sorted(found, key=lambda pair: pair[0])]


def dataset_for(store: LocalBlobStore, match: Match,
                accepted: Sequence[PresentationContext]) -> Dataset:
    """The stored instance, ready for a C-STORE over an association with ``accepted``.

    Sent as stored when its transfer syntax is accepted for its SOP class (native syntaxes
    convert into one another on the way, as pynetdicom encodes); otherwise a compressed
    instance is decompressed when a native syntax is accepted.

    Raises
    ------
    ValueError
        No accepted context can carry the instance.
    """
    ds = pydicom.dcmread(io.BytesIO(store.read(match.blob)))
    syntax = UID(match.transfer_syntax)
    if accepts(accepted, match.sop_class_uid, syntax) or not syntax.is_compressed:
        return ds  # as stored; pynetdicom converts between native syntaxes itself
    if not any(accepts(accepted, match.sop_class_uid, s) for s in NATIVE_SYNTAXES):
        raise ValueError(f"the receiver accepted no context for SOP class "
                         f"{match.sop_class_uid} in {syntax} or a native transfer syntax")
    ds.decompress()
    return ds


def by_study(matches: Sequence[Match]) -> dict[str, int]:
    """Number of instances per study, for one audit event per study."""
    counts: dict[str, int] = {}
    for match in matches:
        counts[match.study_uid] = counts.get(match.study_uid, 0) + 1
    return counts
