"""Frame access over pydicom's own test files and datasets built here.

Twins: pydicom ships the same pixels in several encodings (MR_small.dcm as RLE,
JPEG 2000 and JPEG-LS lossless, big endian, implicit VR; rtdose.dcm as RLE and big
endian), so every decoded frame can be compared byte for byte with the native one.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.utils import pack_bits
from pydicom.uid import (
    MPEG2MPML,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

from workbench.dicom import frames
from workbench.errors import InvalidDicomError, NotFoundError, UnsupportedTransferSyntaxError


def read(name: str) -> Dataset:
    """A pydicom test file, read whole."""
    path = get_testdata_file(name)
    assert path is not None, name
    return dcmread(path)


def fragments(pixel_data: bytes) -> list[bytes]:
    """Items of encapsulated Pixel Data after the Basic Offset Table (PS3.5 A.4)."""
    items, offset = [], 0
    while offset + 8 <= len(pixel_data):
        group, element, length = struct.unpack("<HHI", pixel_data[offset : offset + 8])
        if (group, element) == (0xFFFE, 0xE0DD):
            break
        assert (group, element) == (0xFFFE, 0xE000)
        items.append(pixel_data[offset + 8 : offset + 8 + length])
        offset += 8 + length
    return items[1:]


def roundtrip(ds: Dataset) -> Dataset:
    """Write and read back, as the archive would store and serve the dataset."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return dcmread(io.BytesIO(buffer.getvalue()))


def multiframe_mr(count: int = 3) -> Dataset:
    """A native 16-bit signed multi-frame dataset made from MR_small.dcm."""
    ds = read("MR_small.dcm")
    base = ds.pixel_array.astype(np.int16)
    stack = np.stack([np.roll(base, 7 * i, axis=1) - 50 * i for i in range(count)])
    ds.NumberOfFrames = count
    ds.PixelData = stack.astype("<i2").tobytes()
    ds.SOPInstanceUID = generate_uid()
    return ds


# -- number of frames and frame numbers ---------------------------------------------


def test_native_transfer_syntaxes() -> None:
    assert ExplicitVRLittleEndian in frames.NATIVE_TRANSFER_SYNTAXES
    assert ExplicitVRBigEndian in frames.NATIVE_TRANSFER_SYNTAXES
    assert "1.2.840.10008.1.2.1.99" in frames.NATIVE_TRANSFER_SYNTAXES
    assert JPEG2000Lossless not in frames.NATIVE_TRANSFER_SYNTAXES


@pytest.mark.parametrize(
    ("name", "count"),
    [("CT_small.dcm", 1), ("SC_rgb_rle_2frame.dcm", 2), ("rtdose.dcm", 15),
     ("examples_ybr_color.dcm", 30), ("waveform_ecg.dcm", 0), ("test-SR.dcm", 0)],
)  # fmt: skip
def test_number_of_frames(name: str, count: int) -> None:
    assert frames.number_of_frames(read(name)) == count


@pytest.mark.filterwarnings("ignore:Invalid value for VR IS")
def test_number_of_frames_rejects_garbage() -> None:
    with pytest.raises(InvalidDicomError, match="NumberOfFrames"):
        frames.number_of_frames(read("badVR.dcm"))


@pytest.mark.parametrize("number", [0, -1, 16, 100])
@pytest.mark.parametrize("name", ["rtdose.dcm", "rtdose_rle.dcm"])
def test_frame_out_of_range(name: str, number: int) -> None:
    ds = read(name)
    for function in (frames.encoded_frame, frames.native_frame, frames.frame_array):
        with pytest.raises(NotFoundError, match="1 to 15"):
            function(ds, number)


def test_no_pixel_data() -> None:
    ds = read("waveform_ecg.dcm")
    for function in (frames.encoded_frame, frames.native_frame, frames.frame_array):
        with pytest.raises(InvalidDicomError, match="has no Pixel Data"):
            function(ds, 1)


# -- encoded frames -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["SC_rgb_rle_2frame.dcm", "rtdose_rle.dcm", "examples_ybr_color.dcm",
             "JPEG2000.dcm", "MR_small_jp2klossless.dcm", "SC_rgb_jpeg_dcmtk.dcm"],
)  # fmt: skip
def test_encoded_frame_is_the_fragment(name: str) -> None:
    ds = read(name)
    items = fragments(ds.PixelData)
    assert len(items) == frames.number_of_frames(ds)
    for number, item in enumerate(items, start=1):
        assert frames.encoded_frame(ds, number) == item


@pytest.mark.parametrize("has_bot", [True, False])
def test_encoded_frame_joins_several_fragments(has_bot: bool) -> None:
    source = read("SC_rgb_jpeg_dcmtk.dcm")
    jpeg = frames.encoded_frame(source, 1)
    streams = [jpeg, jpeg[:-2] + b"\x00\x00\xff\xd9", jpeg]  # three distinct frames
    ds = read("SC_rgb_jpeg_dcmtk.dcm")
    ds.NumberOfFrames = 3
    ds.PixelData = encapsulate(streams, fragments_per_frame=3, has_bot=has_bot)
    assert len(fragments(ds.PixelData)) == 9
    assert [frames.encoded_frame(ds, n) for n in (1, 2, 3)] == streams
    np.testing.assert_array_equal(frames.frame_array(ds, 3), frames.frame_array(source, 1))


def test_encoded_frame_uses_the_extended_offset_table() -> None:
    source = read("SC_rgb_rle_2frame.dcm")
    streams = [frames.encoded_frame(source, n) for n in (1, 2)]
    pixel_data, offsets, lengths = encapsulate_extended(streams)
    ds = read("SC_rgb_rle_2frame.dcm")
    ds.PixelData = pixel_data
    ds.ExtendedOffsetTable = offsets
    ds.ExtendedOffsetTableLengths = lengths
    assert frames.encoded_frame(ds, 2) == streams[1]
    assert frames.native_frame(ds, 2) == frames.native_frame(source, 2)
    copy = frames.to_explicit_little_endian(ds)
    assert "ExtendedOffsetTable" not in copy and "ExtendedOffsetTableLengths" not in copy


def test_encoded_frame_of_native_data_is_the_slice() -> None:
    ds = read("rtdose.dcm")
    size = 10 * 10 * 4
    for number in (1, 8, 15):
        assert frames.encoded_frame(ds, number) == ds.PixelData[(number - 1) * size :][:size]


def test_native_ybr_full_422_keeps_its_subsampling() -> None:
    ds = read("SC_ybr_full_422_uncompressed.dcm")
    assert len(frames.encoded_frame(ds, 1)) == 100 * 100 * 2
    array, interpretation = frames.decode_frame(ds, 1)
    assert array.shape == (100, 100, 3)
    assert interpretation == "YBR_FULL"


def test_truncated_pixel_data() -> None:
    with pytest.raises(InvalidDicomError, match="too few"):
        frames.encoded_frame(read("MR_truncated.dcm"), 1)


# -- native frames: every encoding of the same pixels gives the same bytes ------------


@pytest.mark.parametrize(
    "twin", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
             "MR_small_bigendian.dcm", "MR_small_expb.dcm", "MR_small_implicit.dcm"],
)  # fmt: skip
def test_native_frame_equals_uncompressed_twin(twin: str) -> None:
    expected = read("MR_small.dcm").PixelData
    assert frames.native_frame(read(twin), 1) == expected
    assert frames.frame_array(read(twin), 1).tobytes() == expected  # native byte order (LE)


@pytest.mark.parametrize("twin", ["rtdose_rle.dcm", "rtdose_expb.dcm"])
def test_multiframe_native_frames_equal_twin(twin: str) -> None:
    reference, other = read("rtdose.dcm"), read(twin)
    for number in range(1, 16):
        assert frames.native_frame(other, number) == frames.encoded_frame(reference, number)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless])
def test_compressed_multiframe_equals_original(syntax: str) -> None:
    original = multiframe_mr()
    compressed = multiframe_mr()
    compressed.compress(syntax, generate_instance_uid=False)
    compressed = roundtrip(compressed)
    assert compressed.file_meta.TransferSyntaxUID == syntax
    for number in (1, 2, 3):
        assert frames.native_frame(compressed, number) == frames.native_frame(original, number)
        assert frames.encoded_frame(compressed, number) != frames.encoded_frame(original, number)


def test_ybr_full_422_jpeg_comes_out_as_rgb() -> None:
    ds = read("examples_ybr_color.dcm")
    array, interpretation = frames.decode_frame(ds, 30)
    assert interpretation == "RGB"
    assert array.shape == (240, 320, 3) and array.dtype == np.uint8
    assert frames.native_frame(ds, 30) == array.tobytes()
    np.testing.assert_array_equal(array, ds.pixel_array[29])


def test_one_bit_frames_that_are_not_byte_aligned() -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2, size=(4, 3, 5), dtype=np.uint8)  # 15 bits per frame
    ds = read("liver_1frame.dcm")
    ds.Rows, ds.Columns, ds.NumberOfFrames = 3, 5, 4
    ds.PixelData = pack_bits(bits)
    for number in range(1, 5):
        frame = frames.encoded_frame(ds, number)
        assert len(frame) == 2
        unpacked = np.unpackbits(np.frombuffer(frame, np.uint8), bitorder="little")
        np.testing.assert_array_equal(unpacked[:15], bits[number - 1].ravel())
        assert not unpacked[15:].any()
        np.testing.assert_array_equal(frames.frame_array(ds, number), bits[number - 1])
        assert frames.native_frame(ds, number) == frame
    copy = roundtrip(frames.to_explicit_little_endian(ds))
    np.testing.assert_array_equal(copy.pixel_array, bits)


def test_one_bit_big_endian_twin() -> None:
    little, big = read("liver_1frame.dcm"), read("liver_expb_1frame.dcm")
    assert frames.native_frame(big, 1) == frames.native_frame(little, 1)


# -- transcoding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["CT_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_RLE.dcm",
     "MR_small_jp2klossless.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm", "rtdose.dcm",
     "SC_rgb_small_odd_big_endian.dcm", "ExplVR_BigEnd.dcm", "liver_expb_1frame.dcm",
     "image_dfl.dcm", "SC_rgb_rle_16bit_2frame.dcm", "SC_rgb_jpeg_gdcm.dcm",
     "examples_ybr_color.dcm", "examples_jpeg2k.dcm", "examples_palette.dcm",
     "JPEGLSNearLossless_16.dcm", "SC_rgb_jpeg_dcmd.dcm"],
)  # fmt: skip
@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_to_explicit_little_endian_round_trips_pixels(name: str) -> None:
    original = read(name)
    before = original.PixelData
    copy = roundtrip(frames.to_explicit_little_endian(original))
    assert copy.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert original.PixelData == before  # the input is left alone
    assert copy.SOPInstanceUID == original.SOPInstanceUID
    np.testing.assert_array_equal(copy.pixel_array, original.pixel_array)
    for number in range(1, frames.number_of_frames(copy) + 1):
        assert frames.encoded_frame(copy, number) == frames.native_frame(original, number)


def test_transcoded_ybr_jpeg_states_rgb() -> None:
    copy = frames.to_explicit_little_endian(read("examples_ybr_color.dcm"))
    assert copy.PhotometricInterpretation == "RGB"
    assert copy.PlanarConfiguration == 0
    assert copy.LossyImageCompression == "01"
    assert not copy["PixelData"].is_undefined_length


def test_big_endian_non_pixel_words_are_swapped() -> None:
    copy = roundtrip(frames.to_explicit_little_endian(read("MR_small_bigendian.dcm")))
    reference = read("MR_small.dcm")
    assert copy.Rows == reference.Rows and copy.WindowCenter == reference.WindowCenter
    assert copy.PixelData == reference.PixelData


@pytest.mark.parametrize(
    ("name", "method"),
    [("JPEG2000.dcm", "ISO_15444_1"), ("JPEGLSNearLossless_08.dcm", "ISO_14495_1"),
     ("SC_rgb_jpeg_dcmtk.dcm", "ISO_10918_1")],
)  # fmt: skip
def test_lossy_decompression_is_flagged(name: str, method: str) -> None:
    ds = read(name)
    for keyword in (
        "LossyImageCompression",
        "LossyImageCompressionMethod",
        "LossyImageCompressionRatio",
    ):
        ds.pop(keyword, None)
    copy = frames.to_explicit_little_endian(ds)
    assert copy.LossyImageCompression == "01"
    assert copy.LossyImageCompressionMethod == method  # one value: the only compression
    assert float(copy.LossyImageCompressionRatio) > 1


@pytest.mark.parametrize(
    "name", ["MR_small_jp2klossless.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm"]
)
def test_lossless_decompression_is_not_flagged(name: str) -> None:
    assert "LossyImageCompression" not in frames.to_explicit_little_endian(read(name))


def test_unsupported_transfer_syntax() -> None:
    ds = read("SC_rgb_jpeg_dcmtk.dcm")
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    assert not frames.can_decode(MPEG2MPML)
    with pytest.raises(UnsupportedTransferSyntaxError, match=r"1\.2\.840\.10008\.1\.2\.4\.100"):
        frames.to_explicit_little_endian(ds)
    with pytest.raises(UnsupportedTransferSyntaxError, match="MPEG2 Main Profile"):
        frames.native_frame(ds, 1)
    assert frames.encoded_frame(ds, 1) == fragments(ds.PixelData)[0]  # still retrievable


def test_can_decode() -> None:
    assert frames.can_decode(ExplicitVRBigEndian)
    assert frames.can_decode(JPEG2000Lossless)
    assert frames.can_decode(RLELossless)
    assert not frames.can_decode("1.2.3.4")


def test_dataset_built_in_memory_without_file_meta() -> None:
    ds = Dataset()
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 2, 3, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    values = np.arange(6, dtype="<u2").reshape(2, 3)
    ds.PixelData = values.tobytes()
    np.testing.assert_array_equal(frames.frame_array(ds, 1), values)
    copy = frames.to_explicit_little_endian(ds)
    assert isinstance(copy.file_meta, FileMetaDataset)
    assert copy.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


# -- the shared corpus ------------------------------------------------------------------


@pytest.mark.corpus
def test_corpus_enhanced_mr_frames(corpus: Path) -> None:
    ds = dcmread(corpus / "pydicom-data" / "emri_small.dcm")
    stack = ds.pixel_array
    for number in range(1, 11):
        np.testing.assert_array_equal(frames.frame_array(ds, number), stack[number - 1])
    compressed = dcmread(corpus / "pydicom-data" / "emri_small.dcm")
    compressed.compress(JPEG2000Lossless, generate_instance_uid=False)
    for number in (1, 10):
        assert frames.native_frame(compressed, number) == frames.native_frame(ds, number)


@pytest.mark.corpus
def test_corpus_ultrasound_rle_twin(corpus: Path) -> None:
    native = dcmread(corpus / "pydicom-data" / "OBXXXX1A_2frame.dcm")
    rle = dcmread(corpus / "pydicom-data" / "OBXXXX1A_rle_2frame.dcm")
    for number in (1, 2):
        assert frames.native_frame(rle, number) == frames.native_frame(native, number)


# -- native grey-scale frames read directly -------------------------------------------


def _pydicom_frame(ds: Dataset, index: int) -> np.ndarray:
    array, _ = get_decoder(frames._transfer_syntax(ds)).as_array(ds, index=index, raw=True)
    return np.asarray(array)


@pytest.mark.parametrize("signed", [0, 1])
@pytest.mark.parametrize(("allocated", "stored"), [(8, 8), (8, 6), (16, 12), (16, 16), (32, 20)])
def test_grey_frames_equal_pydicom_with_garbage_in_unused_bits(
    signed: int, allocated: int, stored: int
) -> None:
    ds = multiframe_mr(3)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, stored, stored - 1
    ds.PixelRepresentation = signed
    size = ds.Rows * ds.Columns * 3 * allocated // 8
    ds.PixelData = np.random.default_rng(allocated + stored).bytes(size)
    layout = frames.grey_layout(ds)
    assert layout is not None and layout.unused_bits == allocated - stored
    for number in (1, 3):
        array, photometric = frames.decode_frame(ds, number)
        expected = _pydicom_frame(ds, number - 1)
        assert array.dtype == expected.dtype and array.flags.writeable
        np.testing.assert_array_equal(array, expected)
        assert photometric == "MONOCHROME2"
        start = (number - 1) * layout.frame_bytes
        buffer = np.frombuffer(ds.PixelData[start : start + layout.frame_bytes], np.uint8).copy()
        np.testing.assert_array_equal(layout.values(buffer.data), expected)


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "rtdose.dcm"]
)
def test_grey_frames_of_test_files_equal_pydicom(name: str) -> None:
    ds = read(name)
    assert frames.grey_layout(ds) is not None
    for number in sorted({1, frames.number_of_frames(ds)}):
        np.testing.assert_array_equal(
            frames.decode_frame(ds, number)[0], _pydicom_frame(ds, number - 1)
        )


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_bigendian.dcm",
        "MR_small_RLE.dcm",
        "JPEG2000.dcm",
        "SC_rgb_rle.dcm",
        "liver_1frame.dcm",
    ],
)
def test_grey_layout_leaves_the_rest_to_pydicom(name: str) -> None:
    assert frames.grey_layout(read(name)) is None


def test_grey_layout_needs_only_the_header() -> None:
    ds = read("CT_small.dcm")
    full = frames.grey_layout(ds)
    del ds.PixelData
    assert frames.grey_layout(ds) == full
