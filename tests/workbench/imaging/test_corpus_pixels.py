"""Every image of the shared corpus decodes, and its series become the right arrays.

Each frame of each file decodes to ``(rows, cols)`` (grey, palette indices) or
``(rows, cols, 3)`` (colour) with stored values inside the range Bits Stored and
Pixel Representation allow; a transfer syntax no installed codec decodes gives
UnsupportedTransferSyntaxError naming its UID, and the known-broken files a clear
InvalidDicomError. The series tests use the corpus's real-world geometry: a GE head
CT with an 18.5 degree gantry tilt and spacing from 1.08 to 7 mm, a Philips tilted
phantom, enhanced CT/MR, palette and YBR ultrasound loops.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from workbench.dicom.frames import can_decode, decode_frame, number_of_frames
from workbench.errors import InvalidDicomError, UnsupportedTransferSyntaxError
from workbench.imaging.load import load_dataarray
from workbench.imaging.mpr import coronal
from workbench.imaging.resample import resample
from workbench.imaging.volume import series_volume

pytestmark = pytest.mark.corpus

# Files whose pixels cannot decode, with a word the error must contain.
BROKEN = {
    "dcm4che/3gb-bulk-data-truncated": "cannot decode",  # declares ~3 GB, holds 100 kB
    "fo-dicom/GH1146.dcm": "PixelData is empty",
    "fo-dicom/GH340.dcm": "Bits Allocated",  # ACR-NEMA packed 12-bit pixels
}
UNREADABLE = {"fo-dicom/GH177_D_CLUNIE_CT1_IVRLE_BigEndian_undefined_length.dcm"}
GREY = {"MONOCHROME1", "MONOCHROME2", "PALETTE COLOR"}


def _files(corpus: Path) -> list[Path]:
    return [p for p in sorted(corpus.rglob("*"))
            if p.is_file() and p.name not in ("MANIFEST.tsv", "README.md")]  # fmt: skip


def _read(path: Path) -> Dataset:
    with warnings.catch_warnings():  # the corpus's quirks warn in pydicom, not in our code
        warnings.simplefilter("ignore")
        return dcmread(path, force=True)


def _check_frame(ds: Dataset, number: int) -> str | None:
    """Decode one frame; return what is wrong with it, or None."""
    array, interpretation = decode_frame(ds, number)
    rows, cols = int(ds.Rows), int(ds.Columns)
    expected = (rows, cols) if interpretation in GREY else (rows, cols, 3)
    if array.shape != expected:
        return f"frame {number}: shape {array.shape}, expected {expected} ({interpretation})"
    if array.dtype.kind == "f" or array.size == 0:
        return None
    bits = int(ds.get("BitsStored") or ds.BitsAllocated)
    if interpretation in GREY and int(ds.get("PixelRepresentation") or 0) == 1:
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        low, high = 0, 2 ** (bits if interpretation in GREY else 8) - 1
    if int(array.min()) < low or int(array.max()) > high:
        return f"frame {number}: values {array.min()}..{array.max()} outside {low}..{high}"
    return None


def test_every_corpus_image_decodes(corpus: Path) -> None:
    problems: list[str] = []
    decoded = unsupported = 0
    for path in _files(corpus):
        name = str(path.relative_to(corpus))
        try:
            ds = _read(path)
        except OSError:
            assert name in UNREADABLE, f"{name} cannot be read"
            continue
        count = number_of_frames(ds)
        syntax = str(getattr(ds.get("file_meta"), "TransferSyntaxUID", "") or "")
        if count and syntax and not can_decode(syntax):
            with pytest.raises(UnsupportedTransferSyntaxError, match=syntax.replace(".", r"\.")):
                decode_frame(ds, 1)
            unsupported += 1
            continue
        if name in BROKEN:
            with pytest.raises(InvalidDicomError, match=BROKEN[name]):
                decode_frame(ds, 1)
            continue
        for number in range(1, count + 1):
            problem = _check_frame(ds, number)
            if problem:
                problems.append(f"{name}: {problem}")
                break
        decoded += count > 0
    assert problems == []
    assert decoded > 300 and unsupported >= 1, (decoded, unsupported)


def test_gantry_tilted_uneven_head_ct(corpus: Path) -> None:
    slices = [_read(p) for p in sorted((corpus / "dcm_qa_ct" / "GE").glob("*.dcm"))]
    volume = series_volume(slices[::-1])
    assert volume.shape == (28, 512, 512) and volume.attrs["units"] == "HU"
    assert volume.attrs["tilted"] and volume.attrs["uneven"]
    assert volume.attrs["tilt_degrees"] == pytest.approx(18.5, abs=0.01)
    gaps = np.diff(volume.z.values)
    assert gaps.min() == pytest.approx(1.08, abs=0.01)
    assert gaps.max() == pytest.approx(7.0, abs=0.01)
    assert volume.attrs["sop_instance_uids"][0] == slices[0].SOPInstanceUID
    assert np.isnan(volume.values).any()  # Pixel Padding Value -1500 outside the field of view
    regular = resample(volume)
    assert not regular.attrs["tilted"] and not regular.attrs["uneven"]
    assert regular.attrs["spacing"][0] == pytest.approx(4.0, abs=0.01)
    brain = regular.values[regular.sizes["z"] // 2]
    assert np.nanmedian(brain[200:300, 200:300]) == pytest.approx(30, abs=25)  # grey matter
    assert coronal(regular, max_obliquity=20.0).attrs["plane"] == "coronal"


def test_tilted_phantom_is_even(corpus: Path) -> None:
    folder = corpus / "dcm_qa_ct" / "Philips" / "S21610" / "S2010"
    volume = series_volume([_read(p) for p in sorted(folder.glob("I*"))])
    assert volume.shape == (54, 512, 512)
    assert volume.attrs["tilted"] and not volume.attrs["uneven"]


@pytest.mark.parametrize(
    ("name", "dims", "shape"),
    [
        ("pydicom-data/eCT_Supplemental.dcm", ("z", "y", "x"), (2, 512, 512)),
        ("fo-dicom/mr_brucker.dcm", ("z", "y", "x"), (4, 128, 256)),
        ("fo-dicom/MOVEKNEE.dcm", ("frame", "y", "x"), (19, 256, 256)),
        ("dcm4che/NM-MONO2-16-13x-heart", ("frame", "y", "x"), (13, 64, 64)),  # no orientation
        ("dcm4che/US-PAL-8-10x-echo", ("frame", "y", "x", "rgb"), (10, 430, 600, 3)),
        ("dcm4che/jpeg-ls-Palette.dcm", ("frame", "y", "x", "rgb"), (10, 430, 600, 3)),
        ("fo-dicom/DIRW0007", ("frame", "y", "x", "rgb"), (65, 456, 576, 3)),
    ],
)
def test_multiframe_objects(corpus: Path, name: str, dims: tuple[str, ...],
                            shape: tuple[int, ...]) -> None:  # fmt: skip
    array = load_dataarray(_read(corpus / name))
    assert array.dims == dims and array.shape == shape
    if "frame" in dims and "rgb" in dims:
        assert array.attrs["time_source"] in ("FrameTime", "FrameTimeVector")
        assert 5.0 < array.attrs["frame_rate"] < 100.0
