"""Which study content uses the Advanced Toolset (PRODUCT.md, Fees).

The toolset fee is charged once for a study that contains any of: reports, dictation
voice files, annotations, key images, or uploaded documents; never for a study without
them. :func:`toolset_features` tells from what the archive indexes (SOP classes and
modalities); :data:`UPLOAD_TYPE_FEATURES` from media uploads. Content kept outside DICOM
(report drafts, annotations in the viewer) is reported by the code that stores it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType


class ToolsetFeature(StrEnum):
    """What makes a study use the Advanced Toolset (PRODUCT.md, Fees)."""

    REPORT = "report"
    DICTATION = "dictation audio"
    ANNOTATION = "annotation"
    KEY_IMAGE = "key image"
    DOCUMENT = "uploaded document"


_SOP = "1.2.840.10008.5.1.4.1.1."
SOP_CLASS_FEATURES: Mapping[str, ToolsetFeature] = MappingProxyType({
    # Structured reports written by people (PS3.4 B.5): Basic Text, Enhanced,
    # Comprehensive, Comprehensive 3D, Extensible. Dose and CAD reports that modalities
    # produce on their own are not reports in this sense.
    **{_SOP + s: ToolsetFeature.REPORT for s in ("88.11", "88.22", "88.33", "88.34", "88.35")},
    _SOP + "88.59": ToolsetFeature.KEY_IMAGE,           # Key Object Selection Document
    _SOP + "9.4.1": ToolsetFeature.DICTATION,           # Basic Voice Audio Waveform
    _SOP + "9.4.2": ToolsetFeature.DICTATION,           # General Audio Waveform
    _SOP + "104.1": ToolsetFeature.DOCUMENT,            # Encapsulated PDF
    _SOP + "104.2": ToolsetFeature.DOCUMENT,            # Encapsulated CDA
    _SOP + "91.1": ToolsetFeature.ANNOTATION,           # Microscopy Bulk Simple Annotations
})
PRESENTATION_STATES = _SOP + "11."
"""Every presentation state class (grayscale, colour, blending...) is an annotation."""
MODALITY_FEATURES: Mapping[str, ToolsetFeature] = MappingProxyType({
    "KO": ToolsetFeature.KEY_IMAGE, "PR": ToolsetFeature.ANNOTATION,
    "DOC": ToolsetFeature.DOCUMENT, "AU": ToolsetFeature.DICTATION})


UPLOAD_TYPE_FEATURES: Mapping[str, ToolsetFeature] = MappingProxyType({
    "document": ToolsetFeature.DOCUMENT, "scanned_document": ToolsetFeature.DOCUMENT,
    "other": ToolsetFeature.DOCUMENT, "audio": ToolsetFeature.DICTATION})
"""Media uploads (Media Uploads page, API) that make a study use the toolset; pictures and
video of the study are images, not documents."""


def toolset_features(sop_class_uids: Iterable[str], modalities: Iterable[str] = ()
                     ) -> frozenset[ToolsetFeature]:
    """Which Advanced Toolset features the content of a study shows.

    Parameters
    ----------
    sop_class_uids
        SOP Class UIDs (0008,0016) of the study's instances.
    modalities
        Modalities (0008,0060) of its series.

    Examples
    --------
    >>> sorted(toolset_features(["1.2.840.10008.5.1.4.1.1.88.59"]))
    [<ToolsetFeature.KEY_IMAGE: 'key image'>]
    >>> toolset_features(["1.2.840.10008.5.1.4.1.1.2"], ["CT"])  # CT images only
    frozenset()
    """
    found = {SOP_CLASS_FEATURES[uid] for uid in sop_class_uids if uid in SOP_CLASS_FEATURES}
    found.update(ToolsetFeature.ANNOTATION for uid in sop_class_uids
                 if uid.startswith(PRESENTATION_STATES))
    found.update(MODALITY_FEATURES[m.upper()] for m in modalities
                 if m.upper() in MODALITY_FEATURES)
    return frozenset(found)
