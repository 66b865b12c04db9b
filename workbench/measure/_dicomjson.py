"""Reading single values out of QIDO-RS results (DICOM JSON model, PS3.18 Annex F)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydicom.datadict import tag_for_keyword


def json_text(item: Mapping[str, Any], keyword: str) -> str:
    """Return the first value of `keyword` in a DICOM JSON object as text (``""`` if absent).

    Examples
    --------
    >>> json_text({"00080060": {"vr": "CS", "Value": ["SEG"]}}, "Modality")
    'SEG'
    >>> json_text({}, "Modality")
    ''
    """
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"{keyword!r} is not a DICOM keyword")
    element = item.get(f"{tag:08X}")
    if not isinstance(element, Mapping):
        return ""
    values = element.get("Value")
    if not isinstance(values, list) or not values or values[0] is None:
        return ""
    return str(values[0])


def json_int(item: Mapping[str, Any], keyword: str, default: int = 0) -> int:
    """Return the first value of `keyword` as an int, `default` if absent or not a number."""
    text = json_text(item, keyword)
    try:
        return int(float(text))
    except ValueError:
        return default
