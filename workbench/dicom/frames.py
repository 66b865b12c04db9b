"""Frame-level access to Pixel Data, as WADO-RS frames and bulk data need it.

Frame numbers are **one-based**, as in WADO-RS URLs (``.../frames/1``); arrays are
indexed ``(row, col)`` or ``(row, col, sample)`` with zero-based indices.

Byte layouts follow PS3.5 Section 8 (native pixel data) and Annex A.4 (encapsulated
pixel data). Uncompressed output is always in Explicit VR Little Endian layout, the
layout PS3.18 Section 8.7.3.3.2 prescribes for ``application/octet-stream``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom.uid as ts
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, get_frame
from pydicom.multival import MultiValue
from pydicom.pixels.decoders.base import Decoder, get_decoder
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian
from pydicom.valuerep import VR

from workbench.errors import (
    InvalidDicomError,
    MissingAttributeError,
    NotFoundError,
    UnsupportedTransferSyntaxError,
    WorkbenchError,
)

__all__ = [
    "NATIVE_TRANSFER_SYNTAXES", "GreyLayout", "can_decode", "decode_frame", "encoded_frame",
    "frame_array", "grey_layout", "native_frame", "number_of_frames",
    "to_explicit_little_endian",
]  # fmt: skip

NATIVE_TRANSFER_SYNTAXES: frozenset[str] = frozenset(
    {ts.ImplicitVRLittleEndian, ExplicitVRLittleEndian, ts.DeflatedExplicitVRLittleEndian,
     ExplicitVRBigEndian}
)  # fmt: skip
"""Transfer syntaxes whose Pixel Data is not encapsulated (PS3.5 A.1, A.2, A.3, A.5)."""

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Byte-swap unit of the "other" VRs when converting big to little endian (PS3.5 7.3).
_SWAP_UNIT = {VR.OW: 2, VR.OF: 4, VR.OL: 4, VR.OD: 8, VR.OV: 8}
# Lossy Image Compression Method defined terms (PS3.3 C.7.6.1.1.5.1).
_LOSSY_METHODS = {
    ts.JPEGBaseline8Bit: "ISO_10918_1", ts.JPEGExtended12Bit: "ISO_10918_1",
    ts.JPEGLSNearLossless: "ISO_14495_1", ts.JPEG2000: "ISO_15444_1",
    ts.JPEG2000MC: "ISO_15444_2", ts.HTJ2K: "ISO_15444_15",
}  # fmt: skip


def can_decode(transfer_syntax_uid: str) -> bool:
    """Return whether pixel data in `transfer_syntax_uid` can be decoded here.

    Native transfer syntaxes always can; compressed ones need a pydicom decoder
    whose plugins (pylibjpeg, gdcm, pillow) are installed.
    """
    if transfer_syntax_uid in NATIVE_TRANSFER_SYNTAXES:
        return True
    try:
        return bool(get_decoder(UID(transfer_syntax_uid)).is_available)
    except NotImplementedError:
        return False


def number_of_frames(ds: Dataset) -> int:
    """Return the number of frames: (0028,0008) Number of Frames, else 1 for an image.

    ``0`` for a dataset without Pixel Data, Float Pixel Data or Double Float Pixel Data
    (an SR, an ECG). Raises InvalidDicomError when NumberOfFrames is not a positive
    integer.
    """
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        return 0
    value = ds.get("NumberOfFrames")
    if value is None or value == "":
        return 1
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise InvalidDicomError(f"NumberOfFrames {value!r} is not an integer") from None
    if count < 1:
        raise InvalidDicomError(f"NumberOfFrames {count} is not a positive integer")
    return count


def encoded_frame(ds: Dataset, number: int) -> bytes:
    """Return frame `number` (one-based) as it is stored, without decoding it.

    For an encapsulated (compressed) transfer syntax this is the frame's original
    bitstream: its fragments joined, located through the Extended Offset Table, the
    Basic Offset Table, or (with neither) one fragment per frame or JPEG end-of-image
    markers (PS3.5 A.4). For a native transfer syntax it is the frame's bytes in
    little-endian order (big-endian words are swapped). With Bits Allocated 1 a frame
    need not start on a byte boundary (PS3.5 8.1.1); such a frame is unpacked and
    repacked so that its first pixel is bit 0 of its first byte and the last byte is
    zero-padded. Native YBR_FULL_422 frames keep their 4:2:2 subsampling.

    Raises
    ------
    NotFoundError
        `number` is outside ``1..number_of_frames(ds)``.
    InvalidDicomError
        No pixel data, or pixel data too short or malformed for the frame.
    UnsupportedTransferSyntaxError
        A transfer syntax that is neither native nor encapsulated.
    """
    index, syntax, keyword = _locate(ds, number)
    if syntax in NATIVE_TRANSFER_SYNTAXES:
        return _native_frame_bytes(ds, keyword, syntax, index)
    element = ds[keyword]
    if not element.is_undefined_length:
        raise UnsupportedTransferSyntaxError(
            f"Pixel Data is not encapsulated, so transfer syntax {syntax} "
            f"({syntax.name}) cannot be read here"
        )
    offsets = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        offsets = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    try:
        count = number_of_frames(ds)
        return get_frame(element.value, index, number_of_frames=count, extended_offsets=offsets)
    except (ValueError, KeyError, IndexError, EOFError) as exc:
        raise InvalidDicomError(f"cannot locate frame {number} in Pixel Data: {exc}") from exc


def native_frame(ds: Dataset, number: int) -> bytes:
    """Return frame `number` (one-based) uncompressed, in Explicit VR Little Endian layout.

    This is what ``application/octet-stream`` carries (PS3.18 8.7.3.3.2), and equals
    ``encoded_frame(to_explicit_little_endian(ds), number)``. Native data is returned as
    :func:`encoded_frame` returns it. Compressed data is decoded with pydicom's pixel
    backends; YCbCr colour (YBR_FULL, YBR_FULL_422, YBR_ICT, YBR_RCT) comes out as
    RGB, colour-by-pixel (Planar Configuration 0), full resolution, the samples of each
    pixel adjacent (R1 G1 B1 R2 G2 B2 ...). Bits Allocated 1 frames are bit-packed,
    least significant bit first.
    """
    index, syntax, keyword = _locate(ds, number)
    if syntax in NATIVE_TRANSFER_SYNTAXES:
        return _native_frame_bytes(ds, keyword, syntax, index)
    array, _ = _decode(ds, syntax, index)
    return _little_endian_bytes(array, int(ds.BitsAllocated))


def frame_array(ds: Dataset, number: int) -> npt.NDArray[Any]:
    """Return the pixel values of frame `number` (one-based) as a new array.

    Shape is ``(rows, cols)`` for one sample per pixel and ``(rows, cols, samples)``
    otherwise, indexed ``[row, col]`` from the top-left pixel, zero-based, in the
    machine's byte order. The values are stored values (before any modality LUT).
    Native YCbCr data stays YCbCr (4:2:2 subsampling removed); compressed colour data
    is decoded to RGB, matching :func:`native_frame`. Bits Allocated 1 gives 0/1
    ``uint8``. Use :func:`decode_frame` to learn which photometric interpretation
    the values are in.
    """
    return decode_frame(ds, number)[0]


def decode_frame(ds: Dataset, number: int) -> tuple[npt.NDArray[Any], str]:
    """Return ``(array, photometric_interpretation)`` for frame `number` (one-based).

    The array is as :func:`frame_array` describes; the string is the Photometric
    Interpretation (PS3.3 C.7.6.3.1.2) its values are in, e.g. ``"RGB"`` for a JPEG
    baseline YBR_FULL_422 frame and ``"YBR_FULL"`` for a native YBR_FULL_422 frame
    (subsampling removed).
    """
    index, syntax, keyword = _locate(ds, number)
    if not ds[keyword].value:
        raise InvalidDicomError(f"{keyword} is empty: frame {number} has no pixels")
    array, interpretation = _decode(ds, syntax, index)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if not array.flags.writeable:
        array = array.copy()
    return array, interpretation


def to_explicit_little_endian(ds: Dataset) -> Dataset:
    """Return a copy of `ds` transcoded to Explicit VR Little Endian.

    * Implicit VR and deflated data only change transfer syntax.
    * Big endian: every OW/OF/OL/OD/OV value is byte-swapped (PS3.5 7.3), Pixel Data
      per word of Bits Allocated (8-bit data encoded as OW per 16-bit word).
    * Compressed pixel data is decoded frame by frame as :func:`native_frame` does;
      Photometric Interpretation and Planar Configuration (0) are updated, the
      Extended Offset Table removed. When the codestream shows irreversible
      compression (JPEG lossy processes, JPEG-LS NEAR > 0, JPEG 2000 9-7 wavelet),
      Lossy Image Compression is set to ``"01"`` and its method and ratio recorded
      (PS3.3 C.7.6.1.1.5). The SOP Instance UID is kept: decoding loses nothing.

    Raises
    ------
    UnsupportedTransferSyntaxError
        No installed codec decodes the transfer syntax (the message names it).
    """
    syntax = _transfer_syntax(ds)
    if syntax not in NATIVE_TRANSFER_SYNTAXES:
        _require_decoder(syntax)
    out = copy.deepcopy(ds)
    for _ in _elements(out):  # decode raw elements while their encoding is known
        pass
    if syntax == ExplicitVRBigEndian:
        _swap_to_little_endian(out)
    elif syntax not in NATIVE_TRANSFER_SYNTAXES and "PixelData" in out:
        _decompress_into(out, syntax)
    if getattr(out, "file_meta", None) is None:
        out.file_meta = FileMetaDataset()
    out.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out.set_original_encoding(False, True)
    return out


# -- helpers -------------------------------------------------------------------------


def _transfer_syntax(ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid:
        return UID(uid)
    keyword = next((k for k in _PIXEL_KEYWORDS if k in ds), None)
    if keyword is not None and ds[keyword].is_undefined_length:
        raise MissingAttributeError("TransferSyntaxUID")
    implicit, little = ds.original_encoding
    if little is False:
        return ExplicitVRBigEndian
    return ts.ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian


def _pixel_keyword(ds: Dataset) -> str:
    for keyword in _PIXEL_KEYWORDS:
        if keyword in ds:
            return keyword
    kind = getattr(ds.get("SOPClassUID"), "name", None) or ds.get("Modality") or "dataset"
    raise InvalidDicomError(f"{kind} has no Pixel Data: it is not an image")


def _locate(ds: Dataset, number: int) -> tuple[int, UID, str]:
    """Return (zero-based frame index, transfer syntax, pixel data keyword)."""
    keyword = _pixel_keyword(ds)
    count = number_of_frames(ds)
    if isinstance(number, bool) or not isinstance(number, int | np.integer):
        raise TypeError(f"frame number must be an int, not {type(number).__name__}")
    if not 1 <= number <= count:
        raise NotFoundError(f"frame {number} does not exist: valid frame numbers are 1 to {count}")
    return int(number) - 1, _transfer_syntax(ds), keyword


def _required_int(ds: Dataset, keyword: str) -> int:
    value = ds.get(keyword)
    if value is None or value == "":
        raise MissingAttributeError(keyword)
    return int(value)


def _native_frame_bytes(ds: Dataset, keyword: str, syntax: UID, index: int) -> bytes:
    rows, cols = _required_int(ds, "Rows"), _required_int(ds, "Columns")
    samples = int(ds.get("SamplesPerPixel") or 1)
    bits = _required_int(ds, "BitsAllocated")
    if keyword == "FloatPixelData":
        bits = 32
    elif keyword == "DoubleFloatPixelData":
        bits = 64
    frame_bits = rows * cols * samples * bits
    if keyword == "PixelData" and ds.get("PhotometricInterpretation") == "YBR_FULL_422":
        frame_bits = frame_bits * 2 // 3  # Y1 Y2 Cb Cr per pixel pair (C.7.6.3.1.2)
    element = ds[keyword]
    data = memoryview(element.value)
    if syntax == ExplicitVRBigEndian:
        data = memoryview(_swapped(bytes(data), _pixel_swap_unit(element.VR, bits)))
    start, stop = index * frame_bits, (index + 1) * frame_bits
    if stop > len(data) * 8:
        raise InvalidDicomError(
            f"{keyword} holds {len(data)} bytes, too few for frame {index + 1} of "
            f"{rows} x {cols} x {samples} samples of {bits} bits"
        )
    if start % 8 == 0 and stop % 8 == 0:
        return bytes(data[start // 8 : stop // 8])
    chunk = np.frombuffer(data[start // 8 : (stop + 7) // 8], dtype=np.uint8)
    unpacked = np.unpackbits(chunk, bitorder="little")
    first = start % 8
    return np.packbits(unpacked[first : first + frame_bits], bitorder="little").tobytes()


def _pixel_swap_unit(vr: str, bits_allocated: int) -> int:
    if bits_allocated >= 16:
        return bits_allocated // 8
    return 2 if vr == VR.OW else 1


def _swapped(data: bytes, unit: int) -> bytes:
    if unit <= 1:
        return data
    usable = len(data) - len(data) % unit
    swapped = np.frombuffer(data[:usable], dtype=f">u{unit}").astype(f"<u{unit}")
    return swapped.tobytes() + data[usable:]


def _require_decoder(syntax: UID) -> Decoder:
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise UnsupportedTransferSyntaxError(
            f"no decoder exists for transfer syntax {syntax} ({syntax.name})"
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies)
        raise UnsupportedTransferSyntaxError(
            f"cannot decode transfer syntax {syntax} ({syntax.name}): {missing}"
        )
    return decoder


_LITTLE_ENDIAN_NATIVE = frozenset(
    {ts.ImplicitVRLittleEndian, ExplicitVRLittleEndian, ts.DeflatedExplicitVRLittleEndian}
)


@dataclass(frozen=True)
class GreyLayout:
    """How the frames of a native, little-endian, one-sample grey-scale image are stored.

    Attributes
    ----------
    dtype
        Little-endian integer type of a stored value (Bits Allocated 8, 16 or 32, signed
        when Pixel Representation is 1).
    rows, columns
        Frame size.
    unused_bits
        Bits Allocated minus Bits Stored: the high bits that carry no value.
    """

    dtype: np.dtype[Any]
    rows: int
    columns: int
    unused_bits: int

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame."""
        return self.rows * self.columns * self.dtype.itemsize

    def values(self, buffer: memoryview) -> npt.NDArray[Any]:
        """The values of the frame whose bytes fill `buffer` (writable), as
        :func:`decode_frame` returns them: an array over `buffer` itself, the unused
        high bits replaced in place by the sign bit (signed) or zero (PS3.5 8.1.1),
        as pydicom's native decoder does."""
        array = np.frombuffer(buffer, dtype=self.dtype, count=self.rows * self.columns)
        array = array.reshape(self.rows, self.columns)
        if self.unused_bits:
            np.left_shift(array, self.unused_bits, out=array)
            np.right_shift(array, self.unused_bits, out=array)
        return array


def grey_layout(ds: Dataset) -> GreyLayout | None:
    """The frame layout of a native little-endian one-sample MONOCHROME1/2 image, else None.

    Only the header is needed (Pixel Data itself may be absent, e.g. a dataset read up to
    it), so that a caller can read one frame's bytes by itself and get its values from
    :meth:`GreyLayout.values`; anything less common (colour, 1 bit, big endian,
    compressed, float) gives None and is left to :func:`decode_frame`.
    """
    if _transfer_syntax(ds) not in _LITTLE_ENDIAN_NATIVE:
        return None
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        return None
    samples, bits = ds.get("SamplesPerPixel", 1), ds.get("BitsAllocated")
    stored, signed = ds.get("BitsStored"), ds.get("PixelRepresentation")
    rows, columns = ds.get("Rows"), ds.get("Columns")
    if (
        samples != 1
        or bits not in (8, 16, 32)
        or signed not in (0, 1)
        or not isinstance(stored, int)
        or not 1 <= stored <= bits
        or not isinstance(rows, int)
        or not isinstance(columns, int)
        or rows < 1
        or columns < 1
        or ds.get("PhotometricInterpretation") not in ("MONOCHROME1", "MONOCHROME2")
    ):
        return None
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    return GreyLayout(dtype, rows, columns, bits - stored)


def _grey_native_frame(ds: Dataset, index: int) -> npt.NDArray[Any] | None:
    """Frame `index` (zero-based) by :func:`grey_layout`, or None (pydicom decodes it).

    Setting up pydicom's decoder for one frame cost more than the rest of a rendering.
    """
    layout = grey_layout(ds)
    value = ds.get("PixelData")
    if layout is None or not isinstance(value, bytes | bytearray):
        return None
    size = layout.frame_bytes
    if len(value) < (index + 1) * size:
        return None  # pydicom names the shortage
    buffer = np.empty(size, dtype=np.uint8).data
    buffer[:] = memoryview(value)[index * size : (index + 1) * size]
    return layout.values(buffer)


def _decode(ds: Dataset, syntax: UID, index: int) -> tuple[npt.NDArray[Any], str]:
    fast = _grey_native_frame(ds, index) if syntax in _LITTLE_ENDIAN_NATIVE else None
    if fast is not None:
        return fast, str(ds.PhotometricInterpretation)
    decoder = _require_decoder(syntax)
    native = syntax in NATIVE_TRANSFER_SYNTAXES
    stated = str(ds.get("PhotometricInterpretation", ""))
    if native and ds.get("BitsAllocated") == 1:  # pydicom misreads unaligned 1-bit frames
        packed = np.frombuffer(_native_frame_bytes(ds, "PixelData", syntax, index), np.uint8)
        shape = (_required_int(ds, "Rows"), _required_int(ds, "Columns"))
        bits = np.unpackbits(packed, count=shape[0] * shape[1], bitorder="little")
        return bits.reshape(shape), stated
    try:
        array, pixel = decoder.as_array(ds, index=index, raw=native)
    except WorkbenchError:
        raise
    except (AttributeError, KeyError, RuntimeError, ValueError, TypeError, EOFError) as exc:
        repaired = _decode_repaired_jpeg(ds, syntax, index)
        if repaired is not None:
            return repaired
        raise InvalidDicomError(f"cannot decode frame {index + 1} ({syntax.name}): {exc}") from exc
    interpretation = str(pixel.get("photometric_interpretation") or stated)
    if native and interpretation == "YBR_FULL_422":
        interpretation = "YBR_FULL"
    return array, interpretation


_REPAIR_KEYWORDS = ("Rows", "Columns", "SamplesPerPixel", "BitsAllocated", "BitsStored",
                    "HighBit", "PixelRepresentation", "PhotometricInterpretation",
                    "PlanarConfiguration")  # fmt: skip


def _decode_repaired_jpeg(
    ds: Dataset, syntax: UID, index: int
) -> tuple[npt.NDArray[Any], str] | None:
    """Decode a sequential JPEG frame whose scan header says Se = 0, or return None.

    ISO 10918-1 requires Se = 63 in sequential (baseline, extended) scans; some old
    encoders wrote 0, which IJG libjpeg accepts with a warning but pylibjpeg refuses.
    The frame is decoded with Se set to 63 (the entropy-coded data are unchanged).
    """
    if syntax not in (ts.JPEGBaseline8Bit, ts.JPEGExtended12Bit):
        return None
    frame = encoded_frame(ds, index + 1)
    position, sequential = 2, False
    while position + 4 <= len(frame) and frame[position] == 0xFF:
        marker = frame[position + 1]
        if marker == 0xDA:  # SOS: Ls(2) Ns(1) Ns*(Cs, Td/Ta) Ss Se Ah/Al
            start = position + 5 + 2 * frame[min(position + 4, len(frame) - 1)]
            if not sequential or start + 1 >= len(frame) or frame[start : start + 2] != b"\0\0":
                return None
            single = Dataset()
            for keyword in _REPAIR_KEYWORDS:
                if keyword in ds:
                    single[keyword] = ds[keyword]
            single.file_meta = FileMetaDataset()
            single.file_meta.TransferSyntaxUID = syntax
            single.PixelData = encapsulate([frame[: start + 1] + b"\x3f" + frame[start + 2 :]])
            single["PixelData"].VR, single["PixelData"].is_undefined_length = VR.OB, True
            return _decode(single, syntax, 0)
        sequential = sequential or marker in (0xC0, 0xC1)
        position += 2 + int.from_bytes(frame[position + 2 : position + 4], "big")
    return None


def _little_endian_bytes(array: npt.NDArray[Any], bits_allocated: int) -> bytes:
    if bits_allocated == 1:
        return np.packbits(array.ravel() != 0, bitorder="little").tobytes()
    if array.dtype.kind == "f":
        return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    kind = "i" if array.dtype.kind == "i" else "u"
    return array.astype(f"<{kind}{bits_allocated // 8}", copy=False).tobytes()


def _decompress_into(ds: Dataset, syntax: UID) -> None:
    bits = _required_int(ds, "BitsAllocated")
    first_frame = encoded_frame(ds, 1)
    encoded_size = len(ds.PixelData)
    decoded = [_decode(ds, syntax, index) for index in range(number_of_frames(ds))]
    chunks = [array for array, _ in decoded]
    if bits == 1:
        data = _little_endian_bytes(np.concatenate([c.ravel() for c in chunks]), 1)
    else:
        data = b"".join(_little_endian_bytes(c, bits) for c in chunks)
    element = ds["PixelData"]
    element.value = data + (b"\x00" if len(data) % 2 else b"")
    element.VR = VR.OB if bits <= 8 else VR.OW
    element.is_undefined_length = False
    for keyword in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
        ds.pop(keyword, None)
    ds.PhotometricInterpretation = decoded[0][1]
    if int(ds.get("SamplesPerPixel") or 1) > 1:
        ds.PlanarConfiguration = 0
    if str(ds.get("LossyImageCompression", "")) != "01" and _irreversible(syntax, first_frame):
        # PS3.3 C.7.6.1.1.5: once lossy, always flagged, with method and ratio.
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = [
            *_values(ds, "LossyImageCompressionMethod"),
            _LOSSY_METHODS[syntax],
        ]
        ratio = f"{len(data) / max(encoded_size, 1):.2f}"
        ds.LossyImageCompressionRatio = [*_values(ds, "LossyImageCompressionRatio"), ratio]


def _values(ds: Dataset, keyword: str) -> list[Any]:
    value = ds.get(keyword)
    if isinstance(value, MultiValue):
        return list(value)
    return [] if value is None or value == "" else [value]


def _irreversible(syntax: UID, frame: bytes) -> bool:
    """Whether the codestream of `frame` was compressed irreversibly."""
    if syntax in (ts.JPEGBaseline8Bit, ts.JPEGExtended12Bit):
        return True  # DCT processes (ISO 10918-1) are always lossy
    if syntax == ts.JPEGLSNearLossless:
        return _marker_payload(frame, 2, b"\xff\xda", "jls") > 0
    if syntax in (ts.JPEG2000, ts.HTJ2K, ts.JPEG2000MC):
        return _marker_payload(frame, frame.find(b"\xff\x4f\xff\x51") + 2, b"\xff\x52", "j2k") == 0
    return False


def _marker_payload(data: bytes, position: int, wanted: bytes, kind: str) -> int:
    """Walk marker segments from `position`; return NEAR (JPEG-LS SOS) or the wavelet
    transform of the JPEG 2000 COD segment (0 = 9-7 irreversible); -1 if not found."""
    while 2 <= position and position + 4 <= len(data):
        marker = data[position : position + 2]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if marker == wanted:
            if kind == "jls":  # Ls(2) Ns(1) Ns*(Cs, Tm) NEAR ILV ...
                offset = position + 5 + 2 * data[position + 4]
            else:  # Lcod(2) Scod(1) SGcod(4) levels xcb ycb style transform
                offset = position + 13
            return data[offset] if offset < len(data) else -1
        if marker in (b"\xff\x90", b"\xff\xd9") or marker[0] != 0xFF:
            return -1
        position += 2 + length
    return -1


def _swap_to_little_endian(ds: Dataset) -> None:
    bits = int(ds.get("BitsAllocated") or 8)
    for element in list(_elements(ds)):
        if not isinstance(element.value, bytes | bytearray) or element.VR not in _SWAP_UNIT:
            continue
        if element.tag == 0x7FE00010:
            unit = _pixel_swap_unit(element.VR, bits)
        else:
            unit = _SWAP_UNIT[VR(element.VR)]
        element.value = _swapped(bytes(element.value), unit)


def _elements(ds: Dataset) -> Iterator[DataElement]:
    for element in ds:
        yield element
        if element.VR == VR.SQ:
            for item in element.value:
                yield from _elements(item)
