"""What a study offers a report: measurements (SR TID 1500) and key images (KOS).

:func:`measurements_from_sr` lists every measured number of a measurement report with
its tracking UID, the link a ``measurement`` field keeps to its annotation;
:func:`key_images_from_kos` lists the images a Key Object Selection document flags.
Both return values ready for the template fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

__all__ = ["KEY_OBJECT_SELECTION", "KeyImageSource", "MeasurementSource",
           "key_images_from_kos", "measurements_from_sr"]

KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"


@dataclass(frozen=True)
class MeasurementSource:
    """One measured number of a TID 1500 report."""

    tracking_uid: str
    label: str
    value: float
    unit: str
    sr_instance_uid: str
    image_instance_uid: str

    def field_value(self) -> dict[str, Any]:
        """The value of a ``measurement`` field linked to this measurement."""
        out: dict[str, Any] = {"value": self.value, "unit": self.unit,
                               "tracking_uid": self.tracking_uid, "label": self.label,
                               "sr_instance_uid": self.sr_instance_uid}
        if self.image_instance_uid:
            out["image_instance_uid"] = self.image_instance_uid
        return out


@dataclass(frozen=True)
class KeyImageSource:
    """An image flagged in a Key Object Selection document."""

    sop_class_uid: str
    sop_instance_uid: str
    series_uid: str
    caption: str = ""

    def field_value(self) -> dict[str, Any]:
        """An entry of a ``key_images`` field."""
        return {"sop_class_uid": self.sop_class_uid, "sop_instance_uid": self.sop_instance_uid,
                "series_uid": self.series_uid, "caption": self.caption}


def measurements_from_sr(sr: Dataset) -> list[MeasurementSource]:
    """The measured numbers of a TID 1500 measurement report, in document order.

    Rows without a tracking UID cannot be linked and are left out.
    """
    from workbench.measure.sr_read import report_rows

    out = []
    for row in report_rows(sr):
        if not row["tracking_uid"]:
            continue
        name = str(row["name"])
        tool = str(row["tracking_identifier"]).removeprefix("workbench:")
        out.append(MeasurementSource(
            str(row["tracking_uid"]), f"{tool} {name}".strip() if tool else name,
            float(row["value"]), str(row["unit"]), str(sr.SOPInstanceUID),
            str(row["sop_instance_uid"] or "")))
    return out


def _description(kos: Dataset) -> str:
    for item in kos.get("ContentSequence", []):
        if item.get("ValueType") == "TEXT":
            return str(item.get("TextValue", ""))
    names = kos.get("ConceptNameCodeSequence") or []
    return str(names[0].CodeMeaning) if names else ""


def key_images_from_kos(kos: Dataset) -> list[KeyImageSource]:
    """The images a Key Object Selection document references (evidence order).

    Raises
    ------
    ValueError
        `kos` is not a Key Object Selection document.
    """
    if str(kos.get("SOPClassUID", "")) != KEY_OBJECT_SELECTION:
        raise ValueError("SOPClassUID is not Key Object Selection Document Storage")
    caption = _description(kos)
    out = []
    for study in kos.get("CurrentRequestedProcedureEvidenceSequence", []):
        for series in study.get("ReferencedSeriesSequence", []):
            for ref in series.get("ReferencedSOPSequence", []):
                out.append(KeyImageSource(str(ref.ReferencedSOPClassUID),
                                          str(ref.ReferencedSOPInstanceUID),
                                          str(series.SeriesInstanceUID), caption))
    return out
