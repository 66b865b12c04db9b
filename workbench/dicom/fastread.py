"""Private: a fast header reader for the common case of the ingest path.

pydicom's reader is general (file objects, every transfer syntax, deferred values,
validation of the file meta) and costs about 0.5 ms for a CT header. Nearly every
instance that arrives is a Part 10 file whose data set is Explicit VR Little Endian
(native or encapsulated pixels), held in memory. For those this module walks the bytes
with ``struct.unpack_from`` and builds the same thing pydicom's ``dcmread(...,
stop_before_pixels=True)`` builds: a :class:`~pydicom.dataset.FileDataset` of
:class:`~pydicom.dataelem.RawDataElement` values (decoded lazily by pydicom, or straight
from their bytes by the DICOM JSON encoder), with its file meta and character set.

Anything unusual (another transfer syntax, a value of undefined length that is not a
sequence, an unknown VR, a truncated element) makes :func:`read_header` return None and
the caller uses pydicom, so behaviour on odd files is pydicom's. Tests compare both
readers element by element on every corpus and pydicom test file.
"""

from __future__ import annotations

from struct import Struct
from typing import Final

from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.tag import BaseTag
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, STANDARD_VR
from pydicom.values import convert_string

# Explicit VR Little Endian data sets: the plain one and every compressed syntax.
_IMPLICIT_LE: Final = "1.2.840.10008.1.2"
_EXPLICIT_BE: Final = "1.2.840.10008.1.2.2"
_DEFLATED: Final = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
_PIXEL_TAGS: Final = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_UNDEFINED: Final = 0xFFFFFFFF
_ITEM: Final = 0xFFFEE000
_ITEM_END: Final = 0xFFFEE00D
_SEQUENCE_END: Final = 0xFFFEE0DD

_HEAD = Struct("<HH2sH")  # group, element, VR, 16-bit length
_TAG_LENGTH = Struct("<HHL")  # group, element, 32-bit length (items, delimiters)
_LONG = Struct("<L")
_LONG_VRS: Final = frozenset(v.encode() for v in EXPLICIT_VR_LENGTH_32)
_KNOWN_VRS: Final = frozenset(v.encode() for v in STANDARD_VR)


class _Unsupported(Exception):
    """Internal: leave this file to pydicom."""


def _element(buf: memoryview, pos: int) -> tuple[int, bytes, int, int]:
    """(tag, VR, value length, value offset) of the explicit VR LE element at ``pos``."""
    group, elem, vr, length = _HEAD.unpack_from(buf, pos)
    if vr in _LONG_VRS:
        return group << 16 | elem, vr, _LONG.unpack_from(buf, pos + 8)[0], pos + 12
    if vr not in _KNOWN_VRS:
        raise _Unsupported
    return group << 16 | elem, vr, length, pos + 8


def _end_of_items(buf: memoryview, pos: int, end: int) -> int:
    """Offset of the sequence delimiter closing the items that start at ``pos``."""
    while pos + 8 <= end:
        group, elem, length = _TAG_LENGTH.unpack_from(buf, pos)
        tag = group << 16 | elem
        if tag == _SEQUENCE_END:
            return pos
        if tag != _ITEM:
            raise _Unsupported
        pos += 8
        pos = _end_of_item(buf, pos, end) + 8 if length == _UNDEFINED else pos + length
    raise _Unsupported


def _end_of_item(buf: memoryview, pos: int, end: int) -> int:
    """Offset of the item delimiter closing the item data set that starts at ``pos``."""
    while pos + 8 <= end:
        group, elem, _ = _TAG_LENGTH.unpack_from(buf, pos)
        if group << 16 | elem == _ITEM_END:
            return pos
        _, vr, length, start = _element(buf, pos)
        if length == _UNDEFINED:
            if vr != b"SQ":
                raise _Unsupported
            pos = _end_of_items(buf, start, end) + 8
        else:
            pos = start + length
    raise _Unsupported


def _elements(buf: memoryview, pos: int, end: int, *, meta: bool
              ) -> tuple[dict[BaseTag, DataElement | RawDataElement], int, bool]:
    """The elements from ``pos``: the file meta group (``meta``) or the data set up to
    Pixel Data. Returns them, the offset where reading stopped and whether it stopped
    at something that ends them (the end of the meta group, Pixel Data)."""
    found: dict[BaseTag, DataElement | RawDataElement] = {}
    while pos + 8 <= end:
        tag, vr, length, start = _element(buf, pos)
        if (meta and tag >> 16 != 2) or (not meta and tag in _PIXEL_TAGS):
            return found, pos, True
        if tag >> 16 == 0xFFFE:
            raise _Unsupported
        text_vr = vr.decode()
        if length == _UNDEFINED:
            if vr != b"SQ":
                raise _Unsupported
            stop = _end_of_items(buf, start, end)
            value = bytes(buf[start:stop])
            found[BaseTag(tag)] = RawDataElement(BaseTag(tag), text_vr, len(value), value,
                                                 start, False, True)
            pos = stop + 8
            continue
        if start + length > end:
            raise _Unsupported
        value = bytes(buf[start:start + length]) if length else b""
        found[BaseTag(tag)] = RawDataElement(BaseTag(tag), text_vr, length, value, start,
                                             False, True)
        pos = start + length
    return found, pos, pos == end


def read_header(data: bytes | memoryview) -> tuple[FileDataset, int] | None:
    """Read a Part 10 header held in memory, as ``dcmread(stop_before_pixels=True)``.

    Parameters
    ----------
    data
        The file from its preamble: all of it, or at least all of the header.

    Returns
    -------
    (FileDataset, int) or None
        The header and the offset where it ends (the Pixel Data tag, or the end of
        ``data``); None when the file is not the common case and pydicom must read it.
    """
    buf = memoryview(data)
    end = len(buf)
    if end < 144 or bytes(buf[128:132]) != b"DICM":
        return None
    try:
        meta_elements, pos, _ = _elements(buf, 132, end, meta=True)
        syntax = meta_elements.get(BaseTag(0x00020010))
        if not isinstance(syntax, RawDataElement) or not syntax.value:
            return None
        ts = syntax.value.decode("latin_1").strip(" \x00")
        if ts in (_IMPLICIT_LE, _EXPLICIT_BE) or ts in _DEFLATED:
            return None
        elements, stop, whole = _elements(buf, pos, end, meta=False)
    except Exception:  # _Unsupported, or a cut-off element: pydicom says what is wrong
        return None
    if not whole:
        return None
    file_meta = FileMetaDataset(meta_elements)
    charset = elements.get(BaseTag(0x00080005))
    encoding: str | list[str] = default_encoding
    if isinstance(charset, RawDataElement):
        names = convert_string(charset.value or b"", True)
        encoding = convert_encodings(names)
    dataset = FileDataset("", Dataset(elements), preamble=bytes(buf[:128]),
                          file_meta=file_meta, is_implicit_VR=False, is_little_endian=True)
    dataset.set_original_encoding(False, True, encoding)
    return dataset, stop


def raw_text(dataset: Dataset, tag: int) -> str | None:
    """A still-raw element's value as text (latin-1, spaces and NULs stripped).

    None when the element is absent or already decoded (ask pydicom then).
    """
    raw = dataset._dict.get(BaseTag(tag))  # noqa: SLF001 - raw bytes on purpose
    if not isinstance(raw, RawDataElement) or raw.value is None:
        return None
    return raw.value.decode("latin_1").strip(" \x00")
