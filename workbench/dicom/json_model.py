"""The DICOM JSON model (PS3.18 Annex F), fast enough to run once per stored instance.

The archive builds the DICOM JSON of every instance at ingest and serves study and
series metadata by concatenating the stored documents (:func:`merge_json_array`).

Output is equal to pydicom's :meth:`~pydicom.dataset.Dataset.to_json_dict` for the
same dataset, except for:

* bulk data: binary elements (OB OD OF OL OV OW UN) whose value is longer than
  ``bulkdata_threshold`` *bytes* (the raw value, not its base64 text) become a
  ``BulkDataURI`` when a ``bulkdata_prefix`` is given, otherwise they are inlined;
* values pydicom cannot serialise degrade instead of raising: a DS or IS value that
  is not a number stays a JSON string, an empty value inside a multi-valued DS, IS,
  AT or PN element is ``null`` (PS3.18 F.2.5), a numeric value of the wrong length
  (or any element pydicom cannot decode) is written as ``UN`` with its raw bytes;
* an element whose VR is still ambiguous (``"US or SS"``...) gets a concrete VR.

Bulk data URIs are ``f"{bulkdata_prefix}/{tag_path}"``.  The tag path of a top-level
element is its tag as 8 upper-case hex digits (``"7FE00010"``); inside a sequence it
is the sequence's path, the zero-based item index and the element's tag, separated
by ``/``: ``"00540016/0/00181074"``.  :func:`parse_bulkdata_path` and
:func:`get_bulkdata` turn such a path back into the element's bytes.

Speed comes from decoding the raw elements of a dataset read from a file directly
from their bytes (the same rules as pydicom's value converters); anything unusual
(private or unknown tags in implicit VR, UN, ambiguous VRs, sequences, deferred
values, LUT descriptors, non-default pydicom settings) goes through pydicom.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydicom import config
from pydicom.dataelem import DataElement, RawDataElement, empty_value_for_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID
from pydicom.valuerep import DS, IS

from workbench.dicom._json_encode import BINARY_VRS, NUMBER_VRS, Context, encode_dataset
from workbench.errors import InvalidDicomError

UNCHECKED: Final = config.IGNORE
"""pydicom's value checks are skipped when a dataset is built from DICOM JSON: they only
warn (reading mode), the archive checked the values when it stored them, and they were
two thirds of the time a viewer spent on a 300-instance series' metadata."""

__all__ = [
    "BULKDATA_PLACEHOLDER",
    "dataset_to_json",
    "dataset_to_json_bytes",
    "get_bulkdata",
    "json_to_dataset",
    "merge_json_array",
    "parse_bulkdata_path",
]

BULKDATA_PLACEHOLDER: Final = "{{BASE}}"
"""Prefix of every BulkDataURI in stored JSON; the server replaces it with its URL."""

_PIXEL_DATA: Final = 0x7FE00010
_TRAILING_PADDING: Final = "FFFCFFFC"


def _pixel_data_vr(ds: Dataset) -> str:
    """Return the VR (Explicit VR rules, PS3.5 A.2) of the instance's Pixel Data."""
    meta = getattr(ds, "file_meta", None)
    syntax = UID(str(meta.get("TransferSyntaxUID", "") or "") if meta is not None else "")
    if syntax.is_transfer_syntax and syntax.is_encapsulated:
        return "OB"
    if syntax == "1.2.840.10008.1.2":  # Implicit VR Little Endian: always OW
        return "OW"
    bits = ds.get("BitsAllocated", None)
    try:
        return "OB" if bits is not None and int(bits) <= 8 else "OW"
    except (TypeError, ValueError):
        return "OW"


def dataset_to_json(
    ds: Dataset,
    *,
    bulkdata_prefix: str | None = None,
    bulkdata_threshold: int = 1024,
    pixel_data: bool = False,
) -> dict[str, Any]:
    """Return the DICOM JSON model of `ds` (file meta information excluded).

    Parameters
    ----------
    ds
        The dataset, typically read with ``stop_before_pixels=True``. It is not
        modified except that pydicom may decode some raw elements in place.
    bulkdata_prefix
        Prefix of the BulkDataURIs, usually :data:`BULKDATA_PLACEHOLDER`. ``None``
        inlines every binary value as ``InlineBinary``.
    bulkdata_threshold
        Binary values longer than this many bytes become bulk data (needs a prefix).
    pixel_data
        Add ``"7FE00010": {"vr": "OB" | "OW", "BulkDataURI": prefix + "/7FE00010"}``
        even when Pixel Data was not read. The VR is OB for encapsulated transfer
        syntaxes, OW for Implicit VR Little Endian, else OB for BitsAllocated <= 8
        and OW otherwise; a Pixel Data element read from the file keeps its VR.
        Needs `bulkdata_prefix`.

    Returns
    -------
    dict
        ``{"GGGGEEEE": {"vr": ..., "Value" | "InlineBinary" | "BulkDataURI": ...}}``
        in ascending tag order. Dataset Trailing Padding (FFFC,FFFC) is left out.

    Raises
    ------
    ValueError
        If `pixel_data` is true but `bulkdata_prefix` is ``None``.
    """
    if pixel_data and bulkdata_prefix is None:
        raise ValueError("pixel_data=True needs a bulkdata_prefix for its BulkDataURI")
    out = encode_dataset(ds, "", Context(bulkdata_prefix, bulkdata_threshold))
    out.pop(_TRAILING_PADDING, None)
    if pixel_data:
        key = f"{_PIXEL_DATA:08X}"
        vr = out.get(key, {}).get("vr")
        vr = vr if vr in ("OB", "OW") else _pixel_data_vr(ds)
        out[key] = {"vr": vr, "BulkDataURI": f"{bulkdata_prefix}/{key}"}
        if next(reversed(out)) != key:
            out = dict(sorted(out.items()))
    return out


def _finite(obj: Any) -> Any:
    """Replace NaN and infinities (not JSON) by the strings PS3.18 F.2.3.1 uses."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def dataset_to_json_bytes(
    ds: Dataset,
    *,
    bulkdata_prefix: str | None = None,
    bulkdata_threshold: int = 1024,
    pixel_data: bool = False,
) -> bytes:
    """Return :func:`dataset_to_json` as compact UTF-8 JSON.

    Non-finite FL/FD/DS values, which JSON cannot hold, are written as the strings
    ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.

    Parameters
    ----------
    ds, bulkdata_prefix, bulkdata_threshold, pixel_data
        As for :func:`dataset_to_json`.

    Returns
    -------
    bytes
        One JSON object, no whitespace between tokens.
    """
    obj = dataset_to_json(
        ds,
        bulkdata_prefix=bulkdata_prefix,
        bulkdata_threshold=bulkdata_threshold,
        pixel_data=pixel_data,
    )
    return json_bytes(obj)


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON of a DICOM JSON object or array (non-finite numbers as strings).

    Examples
    --------
    >>> json_bytes({"00200013": {"vr": "IS", "Value": [1]}})
    b'{"00200013":{"vr":"IS","Value":[1]}}'
    """
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def merge_json_array(items: Iterable[bytes]) -> bytes:
    """Join stored JSON documents into one JSON array.

    Parameters
    ----------
    items
        Each a complete JSON value, e.g. from :func:`dataset_to_json_bytes`.

    Returns
    -------
    bytes
        ``b"[" + b",".join(items) + b"]"``.
    """
    return b"[" + b",".join(items) + b"]"


def _json_value(vr: str, value: Any) -> Any:
    if value is None:
        return "" if vr not in NUMBER_VRS else None
    if vr == "PN":
        if not isinstance(value, Mapping):
            return str(value)
        comps = [value.get(k, "") for k in ("Alphabetic", "Ideographic", "Phonetic")]
        while comps and not comps[-1]:
            comps.pop()
        return "=".join(comps)
    if vr == "AT":
        return int(value, 16)
    if vr == "DS":
        return DS(value, auto_format=not isinstance(value, str), validation_mode=UNCHECKED)
    if vr in ("FL", "FD"):
        return float(value)  # also "NaN", "Infinity", "-Infinity"
    if vr == "IS":
        return IS(value, validation_mode=UNCHECKED)
    if vr == "UI":
        return UID(value)
    return value


def _json_element(tag: int, obj: Any) -> DataElement:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("vr"), str):
        raise InvalidDicomError(f"DICOM JSON element {tag:08X} has no 'vr'")
    vr: str = obj["vr"]
    if vr == "SQ":
        items = obj.get("Value") or []
        return DataElement(tag, vr, Sequence([json_to_dataset(i or {}) for i in items]),
                           validation_mode=UNCHECKED)
    if "InlineBinary" in obj:
        data = obj["InlineBinary"]
        data = data[0] if isinstance(data, list) else data
        return DataElement(tag, vr, base64.b64decode(data, validate=True),
                           validation_mode=UNCHECKED)
    values = obj.get("Value")
    if "BulkDataURI" in obj or not values:
        return DataElement(tag, vr, b"" if vr in BINARY_VRS else empty_value_for_VR(vr),
                           validation_mode=UNCHECKED)
    if not isinstance(values, list):
        raise InvalidDicomError(f"DICOM JSON element {tag:08X}: 'Value' must be a list")
    converted = [_json_value(vr, v) for v in values]
    return DataElement(tag, vr, converted[0] if len(converted) == 1 else converted,
                       validation_mode=UNCHECKED)


def json_to_dataset(obj: Mapping[str, Any],
                    shared: dict[tuple[str, str], DataElement] | None = None) -> Dataset:
    """Build a dataset from its DICOM JSON model.

    Elements given by ``BulkDataURI`` are kept with an empty value (their VR is
    kept, the bytes are not fetched). ``null`` values become empty values. DS
    values given as JSON numbers are formatted to valid (<= 16 character) DS.

    Parameters
    ----------
    obj
        ``{"GGGGEEEE": {"vr": ..., ...}}`` as produced by :func:`dataset_to_json`.
    shared
        A dict kept across calls (e.g. for all instances of one series): a top-level
        element whose JSON is the same as one converted before is that same
        :class:`DataElement` object, not converted again. Most of a series' header is
        alike in every instance, so describing 300 instances converts ~10 elements per
        instance instead of ~75. The datasets then share element objects: treat them as
        read-only.

    Returns
    -------
    Dataset
        A new dataset.

    Raises
    ------
    InvalidDicomError
        If a key is not an 8-hex-digit tag or an element has no VR.
    """
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    for key, element in obj.items():
        try:
            tag = int(key, 16)
        except (TypeError, ValueError):
            raise InvalidDicomError(f"DICOM JSON key {key!r} is not a tag") from None
        if len(key) != 8:
            raise InvalidDicomError(f"DICOM JSON key {key!r} is not a tag")
        try:
            if shared is None or not isinstance(element, Mapping) or element.get("vr") == "SQ":
                converted = _json_element(tag, element)
            else:
                memo = (key, repr(element))
                found = shared.get(memo)
                if found is None:
                    found = shared[memo] = _json_element(tag, element)
                converted = found
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidDicomError(f"DICOM JSON element {key}: {exc}") from exc
        elements[converted.tag] = converted
    # handing the elements over at once skips Dataset.__setitem__'s per-element work
    return Dataset(elements)


def parse_bulkdata_path(path: str) -> tuple[tuple[int, int], ...]:
    """Split a bulk data tag path into ``(sequence tag, item index)`` steps.

    Parameters
    ----------
    path
        E.g. ``"00540016/0/00181074"``; the last step's index is ``-1``.

    Returns
    -------
    tuple of (int, int)
        ``((0x00540016, 0), (0x00181074, -1))`` for the example.

    Raises
    ------
    ValueError
        If `path` is not tags and non-negative indexes alternating.
    """
    parts = path.strip("/").split("/")
    if len(parts) % 2 != 1:
        raise ValueError(f"bulk data path {path!r} must end with a tag")
    steps: list[tuple[int, int]] = []
    for i in range(0, len(parts), 2):
        tag_text = parts[i]
        index_text = parts[i + 1] if i + 1 < len(parts) else "-1"
        if len(tag_text) != 8 or not index_text.lstrip("-").isdigit():
            raise ValueError(f"bulk data path {path!r} is malformed at {tag_text!r}")
        try:
            steps.append((int(tag_text, 16), int(index_text)))
        except ValueError:
            raise ValueError(f"bulk data path {path!r} has a bad tag {tag_text!r}") from None
    return tuple(steps)


def get_bulkdata(ds: Dataset, path: str) -> bytes:
    """Return the bytes of the binary element at `path` (see the module docstring).

    Parameters
    ----------
    ds
        The dataset, read with its bulk data (not with ``stop_before_pixels`` for
        Pixel Data).
    path
        A tag path as in the BulkDataURIs written by :func:`dataset_to_json`.

    Returns
    -------
    bytes
        The value as stored (not byte-swapped).

    Raises
    ------
    KeyError
        If an element or item on the path does not exist.
    ValueError
        If `path` is malformed or does not lead to a binary value.
    """
    current = ds
    for tag, index in parse_bulkdata_path(path):
        elem = current[BaseTag(tag)]
        if index < 0:
            value = elem.value
            if not isinstance(value, bytes | bytearray):
                raise ValueError(f"element {tag:08X} on {path!r} has no binary value")
            return bytes(value)
        items = elem.value
        if elem.VR != "SQ" or index >= len(items):
            raise KeyError(f"no item {index} in {tag:08X} on {path!r}")
        current = items[index]
    raise ValueError(f"bulk data path {path!r} is empty")
