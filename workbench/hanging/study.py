"""Study and series descriptions the protocol rules look at, built from QIDO-RS answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import tag_for_keyword


def _values(item: Mapping[str, Any], keyword: str) -> list[Any]:
    tag = tag_for_keyword(keyword)
    if tag is None:
        return []
    element = item.get(f"{tag:08X}")
    if not element:
        return []
    values = element.get("Value") or []
    return [v.get("Alphabetic", "") if isinstance(v, dict) else v for v in values]


@dataclass(frozen=True)
class SeriesInfo:
    """A series' attributes by keyword (values as lists), from QIDO-RS JSON."""

    attributes: Mapping[str, list[Any]]

    @property
    def uid(self) -> str:
        """SeriesInstanceUID."""
        return str(self.attributes.get("SeriesInstanceUID", [""])[0])

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> SeriesInfo:
        """From one QIDO-RS series result."""
        keywords = ("SeriesInstanceUID", "Modality", "SeriesDescription", "SeriesNumber",
                    "BodyPartExamined", "NumberOfSeriesRelatedInstances", "NumberOfFrames",
                    "ViewPosition", "ImageLaterality", "Laterality", "ProtocolName")
        attributes = {k: _values(item, k) for k in keywords}
        count = attributes.get("NumberOfSeriesRelatedInstances") or [0]
        attributes["Reconstructable"] = ["YES"] if int(count[0] or 0) >= 3 and \
            attributes.get("Modality", [""])[0] in ("CT", "MR", "PT", "NM") else []
        return cls(attributes)


@dataclass(frozen=True)
class StudyInfo:
    """A study's attributes by keyword and its series."""

    attributes: Mapping[str, list[Any]]
    series: Sequence[SeriesInfo] = field(default_factory=tuple)

    @property
    def uid(self) -> str:
        """StudyInstanceUID."""
        return str(self.attributes.get("StudyInstanceUID", [""])[0])

    def first(self, keyword: str) -> str:
        """The first value of an attribute, as text ("" when absent)."""
        values = self.attributes.get(keyword) or [""]
        return str(values[0])

    @classmethod
    def from_json(cls, study: Mapping[str, Any], series: Sequence[Mapping[str, Any]] = ()
                  ) -> StudyInfo:
        """From a QIDO-RS study result and the study's series results."""
        keywords = ("StudyInstanceUID", "StudyDate", "StudyTime", "StudyDescription",
                    "ModalitiesInStudy", "PatientID", "IssuerOfPatientID", "PatientName",
                    "AccessionNumber", "NumberOfStudyRelatedSeries", "BodyPartExamined")
        attributes = {k: _values(study, k) for k in keywords}
        infos = tuple(SeriesInfo.from_json(s) for s in series)
        if not attributes["ModalitiesInStudy"]:
            attributes["ModalitiesInStudy"] = sorted(
                {m for s in infos for m in s.attributes.get("Modality", [])})
        if not attributes["BodyPartExamined"]:
            attributes["BodyPartExamined"] = sorted(
                {b for s in infos for b in s.attributes.get("BodyPartExamined", []) if b})
        return cls(attributes, infos)
