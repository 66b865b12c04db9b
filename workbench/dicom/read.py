"""Reading received DICOM: parse the header once, validate it, extract what the index needs.

The header is parsed with ``stop_before_pixels``: Pixel Data is never decoded on the
ingest path; its byte offset is recorded so frames can be found later.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError as PydicomInvalidDicomError
from pydicom.uid import UID

from workbench.dicom.fastread import raw_text, read_header
from workbench.errors import InvalidDicomError, MissingAttributeError

_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_PIXEL_TAGS = (b"\xe0\x7f\x10\x00", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00")
_SEQ_DELIMITER = b"\xfe\xff\xdd\xe0"


@dataclass(frozen=True)
class ParsedInstance:
    """A validated header and the values the index stores.

    Attributes
    ----------
    dataset
        The header (file meta included), without Pixel Data.
    transfer_syntax
        Transfer Syntax UID from the file meta information.
    pixel_offset
        Byte offset of the Pixel Data element's tag in the file, or None.
    """

    dataset: Dataset
    sop_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax: str
    pixel_offset: int | None
    size: int

    @property
    def has_pixel_data(self) -> bool:
        """Whether the instance carries (Float/Double) Pixel Data."""
        return self.pixel_offset is not None


def with_preamble(data: bytes) -> bytes:
    """Part 10 bytes for a file that starts directly with its File Meta Information.

    Some senders omit the 128-byte preamble and the ``DICM`` prefix but keep the meta
    group (0002,xxxx); those get a zero preamble and ``DICM`` so that every stored file
    is a conformant Part 10 file. Anything else is returned unchanged.
    """
    if len(data) > 132 and data[128:132] == b"DICM":
        return data
    if data[:2] == b"\x02\x00" and data[4:6].isalpha():
        return b"\x00" * 128 + b"DICM" + data
    return data


def valid_uid(value: str) -> bool:
    """Whether ``value`` is a syntactically valid UID (PS3.5 9.1): digits and dots, <= 64."""
    return 0 < len(value) <= 64 and _UID_RE.match(value) is not None


def _required_uid(ds: Dataset, keyword: str, tag: int) -> str:
    raw = raw_text(ds, tag)
    if raw is not None:
        if not raw:
            raise MissingAttributeError(keyword)
        text = raw
    else:
        value = ds.get(keyword)
        if value is None or str(value).strip() == "":
            raise MissingAttributeError(keyword)
        text = str(value).strip().rstrip("\x00")
    if not valid_uid(text):
        raise InvalidDicomError(f"{keyword} {text[:80]!r} is not a valid UID")
    return text


class _NoDelimiterError(InvalidDicomError):
    """Encapsulated Pixel Data whose closing delimiter was not found where looked."""


def _check_pixel_element(head: bytes | memoryview, offset: int, size: int,
                         tail: bytes | memoryview, explicit: bool, little: bool,
                         whole: memoryview | None = None) -> None:
    """Raise when the Pixel Data element at ``offset`` runs past the end of the file.

    ``head`` holds the file from its start at least to ``offset + 12``; ``size`` is the
    file's length and ``tail`` its last bytes (where an encapsulated value's sequence
    delimiter is looked for; ``whole``, when given, is searched as a last resort).
    """
    if explicit:
        if offset + 12 > size:
            raise InvalidDicomError("file is truncated inside the Pixel Data element header")
        vr = bytes(head[offset + 4 : offset + 6])
        if vr in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN"):
            length = struct.unpack("<I" if little else ">I", head[offset + 8 : offset + 12])[0]
            start = offset + 12
        else:
            length = struct.unpack("<H" if little else ">H", head[offset + 6 : offset + 8])[0]
            start = offset + 8
    else:
        if offset + 8 > size:
            raise InvalidDicomError("file is truncated inside the Pixel Data element header")
        length = struct.unpack("<I", head[offset + 4 : offset + 8])[0]
        start = offset + 8
    if length == 0xFFFFFFFF:
        if bytes(tail).rfind(_SEQ_DELIMITER) < 0 and (
            whole is None or bytes(whole[start:]).rfind(_SEQ_DELIMITER) < 0
        ):
            raise _NoDelimiterError(
                "encapsulated Pixel Data has no sequence delimiter: the file is truncated"
            )
    elif start + length > size:
        raise InvalidDicomError(
            f"Pixel Data declares {length} bytes but only {size - start} follow: "
            "the file is truncated"
        )


def _check_pixel_element_in_file(fp: BinaryIO, offset: int, size: int, explicit: bool,
                                 little: bool) -> None:
    """:func:`_check_pixel_element` for an open file, reading only what it needs."""
    fp.seek(offset)
    head = b"\0" * offset + fp.read(12)
    fp.seek(max(0, size - 65536))
    tail = fp.read()
    try:
        _check_pixel_element(head, offset, size, tail, explicit, little)
    except _NoDelimiterError:
        # the delimiter may sit before a long trailer: look through the whole value
        fp.seek(offset)
        carry = b""
        while block := fp.read(1 << 20):
            if (carry + block).find(_SEQ_DELIMITER) >= 0:
                break
            carry = block[-3:]
        else:
            raise


def parse_instance(
    data: bytes | memoryview | BinaryIO, *, max_header_bytes: int | None = None,
    complete: bool = True,
) -> ParsedInstance:
    """Parse and validate one DICOM Part 10 instance.

    Parameters
    ----------
    data
        The whole file, as bytes or an open binary file positioned at its start.
    max_header_bytes
        Reject a header (everything before Pixel Data) larger than this.
    complete
        Whether ``data`` is the whole file. False skips the check that Pixel Data is not
        truncated (see :func:`probe_header`).

    Returns
    -------
    ParsedInstance

    Raises
    ------
    InvalidDicomError
        Not Part 10 (no preamble and ``DICM``), unreadable, truncated, missing one of
        SOPClassUID, SOPInstanceUID, StudyInstanceUID, SeriesInstanceUID, or a UID that
        is not valid. The message names the problem.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        fp: BinaryIO = io.BytesIO(view)
        size = len(view)
    else:
        fp = data
        fp.seek(0, io.SEEK_END)
        size = fp.tell()
        fp.seek(0)
        view = None  # type: ignore[assignment]
    if size < 132:
        raise InvalidDicomError(f"{size} bytes is too short for a DICOM Part 10 file")
    fast = read_header(view) if view is not None else None
    if fast is not None:
        ds, end = fast
        ts = raw_text(ds.file_meta, 0x00020010) or ""
    else:
        try:
            ds = pydicom.dcmread(fp, stop_before_pixels=True)
        except PydicomInvalidDicomError as exc:
            raise InvalidDicomError(f"not a DICOM Part 10 file: {exc}") from None
        except (EOFError, OSError, ValueError, KeyError, TypeError, struct.error) as exc:
            raise InvalidDicomError(f"unreadable DICOM header: {exc}") from None
        end = fp.tell()
        meta = getattr(ds, "file_meta", None)
        ts = str(meta.get("TransferSyntaxUID", "")).strip() if meta is not None else ""
    if not ts:
        raise MissingAttributeError("TransferSyntaxUID")
    if not valid_uid(ts):
        raise InvalidDicomError(f"TransferSyntaxUID {ts[:80]!r} is not a valid UID")
    sop_class = _required_uid(ds, "SOPClassUID", 0x00080016)
    sop_uid = _required_uid(ds, "SOPInstanceUID", 0x00080018)
    study_uid = _required_uid(ds, "StudyInstanceUID", 0x0020000D)
    series_uid = _required_uid(ds, "SeriesInstanceUID", 0x0020000E)

    pixel_offset: int | None = None
    if end < size:
        if view is None:
            fp.seek(end)
            tag = fp.read(4)
        else:
            tag = bytes(view[end : end + 4])
        uid = UID(ts)
        little = uid.is_little_endian if uid.is_transfer_syntax else True
        explicit = uid.is_implicit_VR is False if uid.is_transfer_syntax else True
        tag_le = tag if little else tag[1::-1] + tag[:1:-1]
        if tag_le in _PIXEL_TAGS or (not little and tag in (b"\x7f\xe0\x00\x10",)):
            pixel_offset = end
            deflated = uid.is_transfer_syntax and uid.is_deflated
            if not deflated and complete:
                try:
                    if view is not None:
                        _check_pixel_element(view, end, size, view[-4096:], explicit, little,
                                             whole=view)
                    else:
                        _check_pixel_element_in_file(fp, end, size, explicit, little)
                except InvalidDicomError as exc:
                    raise InvalidDicomError(str(exc), sop_uid=sop_uid,
                                            sop_class_uid=sop_class) from None
    if max_header_bytes is not None and (pixel_offset or size) > max_header_bytes:
        raise InvalidDicomError(
            f"DICOM header is {pixel_offset or size} bytes, over the limit of "
            f"{max_header_bytes} bytes", sop_uid=sop_uid, sop_class_uid=sop_class
        )
    return ParsedInstance(
        dataset=ds,
        sop_uid=sop_uid,
        sop_class_uid=sop_class,
        study_uid=study_uid,
        series_uid=series_uid,
        transfer_syntax=ts,
        pixel_offset=pixel_offset,
        size=size,
    )


def probe_header(prefix: bytes, *, max_header_bytes: int | None = None
                 ) -> ParsedInstance | None:
    """Parse the header from the first bytes of a file still arriving.

    Returns the parsed header when ``prefix`` holds all of it (the Pixel Data tag was
    reached inside ``prefix``), else None: the caller parses the whole file later. Errors
    are not raised here either; the whole file decides.
    """
    try:
        parsed = parse_instance(prefix, max_header_bytes=max_header_bytes, complete=False)
    except Exception:  # a cut-off element is expected in a prefix
        return None
    if parsed.pixel_offset is None or parsed.pixel_offset + 12 > len(prefix):
        return None
    return parsed


def complete_header(parsed: ParsedInstance, head: bytes | memoryview, size: int,
                    tail: bytes | memoryview) -> ParsedInstance:
    """A header probed from a prefix, checked against the whole file.

    Parameters
    ----------
    parsed
        What :func:`probe_header` returned for ``head``.
    head, size, tail
        The file's first bytes (those probed), its length and its last bytes (4 KiB or
        more): all that is needed to see that Pixel Data is complete.

    Raises
    ------
    InvalidDicomError
        Pixel Data is truncated (or its end is not within ``tail``); the error names the
        instance. A caller holding the whole file may check with :func:`parse_instance`.
    """
    ts = UID(parsed.transfer_syntax)
    little = ts.is_little_endian if ts.is_transfer_syntax else True
    explicit = ts.is_implicit_VR is False if ts.is_transfer_syntax else True
    if parsed.pixel_offset is not None and not (ts.is_transfer_syntax and ts.is_deflated):
        try:
            _check_pixel_element(head, parsed.pixel_offset, size, tail, explicit, little)
        except InvalidDicomError as exc:
            raise InvalidDicomError(str(exc), sop_uid=parsed.sop_uid,
                                    sop_class_uid=parsed.sop_class_uid) from None
    return replace(parsed, size=size)


def text(ds: Dataset, keyword: str, limit: int = 324) -> str:
    """An attribute's value as a plain string ('' if absent), multi-values joined by ``\\``."""
    element = ds.get(keyword)
    if element is None:
        return ""
    value: Any = element
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        joined = "\\".join(str(v) for v in value)
    else:
        joined = str(value)
    return joined.strip().rstrip("\x00")[:limit]
