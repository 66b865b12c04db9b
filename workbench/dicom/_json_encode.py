"""Private: the DICOM JSON encoder behind :mod:`workbench.dicom.json_model`.

Raw elements of a dataset read from a file are decoded straight from their bytes
with the same rules as pydicom's value converters (``pydicom.values``); whatever
this does not cover (private or unknown tags in implicit VR, UN, ambiguous VRs,
sequences, deferred values, LUT descriptors, non-default pydicom settings) is
decoded by pydicom and then converted like ``DataElement.to_json_dict`` does.
"""

from __future__ import annotations

import base64
import logging
import struct
from io import BufferedIOBase
from typing import Any, Final

from pydicom import config
from pydicom import hooks as pydicom_hooks
from pydicom._dicom_dict import DicomDictionary
from pydicom.charset import decode_bytes
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.valuerep import PersonName

_log = logging.getLogger("workbench.dicom.json_model")

BINARY_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_INT_VRS: Final = frozenset({"IS", "SL", "SS", "SV", "UL", "US", "UV"})
_FLOAT_VRS: Final = frozenset({"DS", "FD", "FL"})
NUMBER_VRS: Final = _INT_VRS | _FLOAT_VRS | {"AT"}
_STRUCT_FORMATS: Final = {
    "US": ("H", 2), "SS": ("h", 2), "UL": ("L", 4), "SL": ("l", 4),
    "FL": ("f", 4), "FD": ("d", 8), "SV": ("q", 8), "UV": ("Q", 8),
}  # fmt: skip
_LUT_DESCRIPTORS: Final = frozenset({0x00281101, 0x00281102, 0x00281103, 0x00283002})
_TEXT_DELIMS: Final = {0x0D, 0x0A, 0x09, 0x0C, 0x5C}  # pydicom's TEXT_VR_DELIMS


class _Fallback(Exception):
    """Internal: the fast decoder cannot handle this raw element; use pydicom."""


class Context:
    """Settings of one conversion: bulk data prefix and threshold, fast path on/off."""

    __slots__ = ("fast", "prefix", "threshold")

    def __init__(self, prefix: str | None, threshold: int) -> None:
        self.prefix = prefix
        self.threshold = threshold
        self.fast = _fast_path_allowed()


def _fast_path_allowed() -> bool:
    """Return True when pydicom's settings are the defaults the fast decoder mirrors."""
    hooks = pydicom_hooks.hooks
    return (
        not config.datetime_conversion
        and not config.use_DS_numpy
        and not config.use_IS_numpy
        and not config.use_DS_decimal
        and config.data_element_callback is None
        and config.settings.reading_validation_mode != config.RAISE
        and hooks.raw_element_vr is pydicom_hooks.raw_element_vr
        and hooks.raw_element_value is pydicom_hooks.raw_element_value
        and not hooks.raw_element_kwargs
    )


def _encodings(ds: Dataset) -> list[str]:
    """Return the Python codecs pydicom uses for the text elements of `ds`."""
    enc = ds.original_character_set or ds._character_set
    return [enc] if isinstance(enc, str) else list(enc)


def _binary(vr: str, value: bytes, path: str, ctx: Context) -> dict[str, Any]:
    if not value:
        return {"vr": vr}
    if ctx.prefix is not None and len(value) > ctx.threshold:
        return {"vr": vr, "BulkDataURI": f"{ctx.prefix}/{path}"}
    return {"vr": vr, "InlineBinary": base64.b64encode(value).decode("ascii")}


def _to_int(text: str) -> int | str | None:
    """Convert like pydicom's IS; an empty value is None, a non-number stays text."""
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        return text


def _to_float(text: str) -> float | str | None:
    """Convert like pydicom's DS; an empty value is None, a non-number stays text."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _wrap(vr: str, values: list[Any]) -> dict[str, Any]:
    if len(values) == 1 and values[0] in ("", None):
        return {"vr": vr}
    return {"vr": vr, "Value": values}


def _fast_element(raw: RawDataElement, path: str, ctx: Context, enc: list[str]) -> dict[str, Any]:
    """Decode `raw` straight from its bytes, as pydicom's converters would."""
    vr = raw.VR
    tag = raw.tag
    value = raw.value
    if vr is None:
        entry = DicomDictionary.get(tag)
        if entry is None:
            raise _Fallback
        vr = entry[0]
    if (value is None and raw.length) or vr == "UN" or tag in _LUT_DESCRIPTORS:
        raise _Fallback
    if not value:
        return {"vr": vr, "Value": []} if vr == "SQ" else {"vr": vr}
    if vr in ("CS", "DA", "TM", "DT", "AS"):
        return _wrap(vr, value.decode("latin_1").rstrip(" \x00").split("\\"))
    if vr == "UI":  # pydicom's UID() strips every value
        return _wrap(vr, [v.strip() for v in value.decode("latin_1").rstrip(" \x00").split("\\")])
    if vr in ("LO", "SH", "UC"):
        text = decode_bytes(value, enc, _TEXT_DELIMS)
        return _wrap(vr, [v.rstrip("\x00 ") for v in text.split("\\")])
    if vr in ("LT", "ST", "UT"):
        return _wrap(vr, [decode_bytes(value, enc, _TEXT_DELIMS).rstrip("\x00 ")])
    if vr == "PN":
        if 0x1B in value:
            raise _Fallback
        text = decode_bytes(value.rstrip(b"\x00 "), enc, _TEXT_DELIMS)
        if "\ufffd" in text:
            raise _Fallback
        if not text:
            return {"vr": vr}
        return _wrap(vr, [_pn_groups(v.split("=")) for v in text.split("\\")])
    if vr in _STRUCT_FORMATS:
        code, size = _STRUCT_FORMATS[vr]
        count, rest = divmod(len(value), size)
        if rest:
            raise _Fallback
        endian = "<" if raw.is_little_endian else ">"
        return {"vr": vr, "Value": list(struct.unpack(f"{endian}{count}{code}", value))}
    if vr == "DS":
        items = value.decode("latin_1").strip().rstrip(" \x00").split("\\")
        return _wrap(vr, [_to_float(v) for v in items])
    if vr == "IS":
        items = value.decode("latin_1").rstrip(" \x00").split("\\")
        return _wrap(vr, [_to_int(v) for v in items])
    if vr in BINARY_VRS:
        return _binary(vr, value, path, ctx)
    if vr == "AE":
        return _wrap(vr, [v.strip() for v in value.decode("latin_1").split("\\")])
    if vr == "UR":
        return _wrap(vr, [value.decode("latin_1").rstrip()])
    if vr == "AT" and len(value) % 4 == 0:
        endian = "<" if raw.is_little_endian else ">"
        tags = struct.unpack(f"{endian}{len(value) // 2}H", value)
        return {
            "vr": vr,
            "Value": [f"{g:04X}{e:04X}" for g, e in zip(tags[::2], tags[1::2], strict=True)],
        }
    raise _Fallback


def _concrete_vr(vr: str, values: list[Any]) -> str:
    """Choose a real VR for an element pydicom could not disambiguate."""
    if any(isinstance(v, bytes | bytearray) for v in values):
        return "OB" if vr == "OB or OW" else "OW"
    if vr == "OB or OW":
        return "OB"
    return "SS" if any(isinstance(v, int) and v < 0 for v in values) else "US"


def _element_values(value: Any) -> list[Any]:
    """Return the values of an element as a list (pydicom's VM rules)."""
    if value is None:
        return []
    if isinstance(value, str | bytes | bytearray | PersonName):
        return [value] if value else []
    try:
        return list(value)
    except TypeError:
        return [value]


def _pn_value(value: Any) -> dict[str, str] | None:
    if value is None or value == "":
        return None
    name = value if isinstance(value, PersonName) else PersonName(str(value))
    return _pn_groups(list(name.components))


def _pn_groups(comps: list[str]) -> dict[str, str] | None:
    """Map (alphabetic, ideographic, phonetic) groups to their JSON object."""
    while comps and not comps[-1]:
        comps.pop()
    if not comps:
        return None
    out = {"Alphabetic": comps[0]}
    if len(comps) > 1:
        out["Ideographic"] = comps[1]
    if len(comps) > 2:
        out["Phonetic"] = comps[2]
    return out


def _scalar(vr: str, value: Any) -> Any:
    if value is None:
        return None
    if vr in _INT_VRS:
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError):
            return _to_int(str(value).strip())
    if vr in _FLOAT_VRS:
        try:
            return float(value)
        except (TypeError, ValueError):
            return _to_float(str(value).strip())
    if vr == "AT":
        return f"{int(value):08X}"
    return value if isinstance(value, str) else str(value)  # e.g. DA with datetime_conversion


def _element(elem: DataElement, path: str, ctx: Context) -> dict[str, Any]:
    """Convert a decoded element, like pydicom's ``DataElement.to_json_dict``."""
    vr = str(elem.VR)
    value = elem.value
    if vr == "SQ":
        items = value or []
        return {
            "vr": vr,
            "Value": [encode_dataset(d, f"{path}/{i}/", ctx) for i, d in enumerate(items)],
        }
    if isinstance(value, BufferedIOBase):
        value.seek(0)
        value = value.read()
    values = _element_values(value)
    if " or " in vr:
        vr = _concrete_vr(vr, values)
    if vr in BINARY_VRS or isinstance(value, bytes | bytearray):
        vr = vr if vr in BINARY_VRS else "UN"
        return _binary(vr, bytes(value or b""), path, ctx)
    if not values:
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [_pn_value(v) for v in values]}
    return {"vr": vr, "Value": [_scalar(vr, v) for v in values]}


def encode_dataset(ds: Dataset, prefix: str, ctx: Context) -> dict[str, Any]:
    """Convert one dataset; `prefix` is the tag path of its parent item."""
    out: dict[str, Any] = {}
    enc: list[str] | None = None
    items = list(ds.items())
    tags = [int(t) for t, _ in items]
    if tags != sorted(tags):
        items.sort(key=lambda item: int(item[0]))
    for tag, elem in items:
        key = f"{tag:08X}"
        path = prefix + key
        if ctx.fast and isinstance(elem, RawDataElement):
            if enc is None:
                enc = _encodings(ds)
            try:
                out[key] = _fast_element(elem, path, ctx, enc)
                continue
            except _Fallback:
                pass
        try:
            decoded = elem if isinstance(elem, DataElement) else ds[tag]
        except Exception as exc:  # pydicom cannot decode it: keep the bytes as UN
            _log.warning("cannot decode %s (%s); writing it as UN", key, exc)
            raw_value = getattr(elem, "value", None)
            out[key] = _binary("UN", raw_value if isinstance(raw_value, bytes) else b"", path, ctx)
            continue
        try:
            out[key] = _element(decoded, path, ctx)
        except Exception as exc:  # never let one odd value fail an ingest
            _log.warning("cannot convert %s to JSON (%s); writing it empty", key, exc)
            out[key] = {"vr": str(decoded.VR)}
    return out
