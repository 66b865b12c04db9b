"""Comparable prior studies of the same patient, found through QIDO-RS.

A prior is a study of the same Patient ID (and issuer) dated before the current one that
shares a modality or a body part with it; the most recent come first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from workbench.hanging.study import StudyInfo

STUDY_FIELDS = ("StudyDescription", "ModalitiesInStudy", "BodyPartExamined",
                "IssuerOfPatientID", "StudyTime")


class Searcher(Protocol):
    """The part of ``ArchiveClient`` prior selection needs."""

    def search_for_studies(self, *, match: dict[str, str] | None = ...,
                           include_fields: Sequence[str] = ..., fuzzy: bool = ...,
                           limit: int | None = ..., offset: int = ...) -> list[dict[str, Any]]:
        """QIDO-RS studies."""
        ...

    def search_for_series(self, study_uid: str | None = ..., *,
                          match: dict[str, str] | None = ...,
                          include_fields: Sequence[str] = ..., fuzzy: bool = ...,
                          limit: int | None = ..., offset: int = ...) -> list[dict[str, Any]]:
        """QIDO-RS series."""
        ...


def comparable(current: StudyInfo, other: StudyInfo) -> bool:
    """Whether ``other`` shares a modality or a body part with ``current``."""
    modalities = set(current.attributes.get("ModalitiesInStudy", [])) - {"SR", "KO", "PR"}
    parts = {str(p).upper() for p in current.attributes.get("BodyPartExamined", []) if p}
    other_parts = {str(p).upper() for p in other.attributes.get("BodyPartExamined", []) if p}
    return bool(modalities & set(other.attributes.get("ModalitiesInStudy", []))
                or parts & other_parts)


def find_priors(client: Searcher, current: StudyInfo, count: int) -> list[StudyInfo]:
    """Up to ``count`` comparable priors of ``current``, most recent first.

    Parameters
    ----------
    client
        An ``ArchiveClient`` (what the caller may see is what is searched).
    current
        The study being read (its PatientID, issuer and StudyDate are used).
    count
        How many priors the protocol wants.
    """
    if count <= 0 or not current.first("PatientID"):
        return []
    date = current.first("StudyDate")
    match = {"PatientID": current.first("PatientID")}
    if date:
        match["StudyDate"] = f"-{date}"
    found = client.search_for_studies(match=match, include_fields=STUDY_FIELDS)
    issuer = current.first("IssuerOfPatientID")
    candidates = []
    for item in found:
        info = StudyInfo.from_json(item)
        if info.uid == current.uid or info.first("IssuerOfPatientID") != issuer:
            continue
        when = (info.first("StudyDate"), info.first("StudyTime"))
        if when >= (date, current.first("StudyTime")) and date:
            continue  # same day, later or same time: not a prior
        candidates.append((when, info.uid, item))
    candidates.sort(key=lambda entry: entry[0], reverse=True)
    priors = []
    for _, uid, item in candidates:
        series = client.search_for_series(uid, include_fields=("BodyPartExamined",))
        full = StudyInfo.from_json(item, series)
        if comparable(current, full):
            priors.append(full)
        if len(priors) == count:
            break
    return priors
