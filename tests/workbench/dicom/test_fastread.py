"""The fast header reader builds what pydicom's reader builds, or steps aside."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files, get_testdata_files
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from tests.synth import make_ct
from workbench.dicom.fastread import raw_text, read_header
from workbench.dicom.json_model import dataset_to_json
from workbench.dicom.read import parse_instance

FILES = sorted({p for p in get_testdata_files() + get_charset_files() if Path(p).is_file()})


def _pydicom(data: bytes) -> tuple[Dataset, int]:
    fp = io.BytesIO(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(fp, stop_before_pixels=True)
    return ds, fp.tell()


def _json(ds: Dataset) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dataset_to_json(ds, bulkdata_prefix="bulk")


def _same_as_pydicom(data: bytes) -> bool:
    """Assert both readers agree when the fast one reads ``data``; False if it stepped aside."""
    fast = read_header(data)
    if fast is None:
        return False
    mine, stop = fast
    theirs, their_stop = _pydicom(data)
    assert stop == their_stop
    assert _json(mine) == _json(theirs)
    assert _json(mine.file_meta) == _json(theirs.file_meta)
    assert mine.original_character_set == theirs.original_character_set
    assert mine.preamble == theirs.preamble
    for tag in theirs.keys():  # pydicom decodes our raw elements to the same values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                expected = theirs[tag].value
            except Exception:  # noqa: BLE001 - pydicom cannot decode it either way
                continue
            assert mine[tag].value == expected, f"{tag} differs"
    return True


def test_a_synthetic_ct_header_is_read_like_pydicom_reads_it() -> None:
    for ds in make_ct(3, seed=5):
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        assert _same_as_pydicom(buffer.getvalue())


def test_pydicom_test_files_are_read_alike_or_left_to_pydicom() -> None:
    read = 0
    for path in FILES:
        data = Path(path).read_bytes()
        try:
            _pydicom(data)
        except Exception:  # noqa: BLE001 - not a Part 10 file for pydicom either
            assert read_header(data) is None or data[128:132] == b"DICM"
            continue
        read += _same_as_pydicom(data)
    assert read > 40  # most of them are explicit VR little endian


@pytest.mark.corpus
def test_corpus_files_are_read_alike_or_left_to_pydicom(corpus: Path) -> None:
    read = 0
    for path in sorted(corpus.rglob("*")):
        if not path.is_file() or path.suffix in (".tsv", ".md", ".txt", ".json"):
            continue
        data = path.read_bytes()
        try:
            _pydicom(data)
        except Exception:  # noqa: BLE001 - malformed files: pydicom decides
            continue
        read += _same_as_pydicom(data)
    assert read > 100


def test_other_transfer_syntaxes_and_cut_headers_are_left_to_pydicom() -> None:
    ds = make_ct(1, seed=6)[0]
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    implicit = io.BytesIO()
    ds.save_as(implicit, implicit_vr=True, little_endian=True, enforce_file_format=True)
    assert read_header(implicit.getvalue()) is None
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    explicit = io.BytesIO()
    ds.save_as(explicit, implicit_vr=False, little_endian=True, enforce_file_format=True)
    whole = explicit.getvalue()
    header_end = read_header(whole)
    assert header_end is not None
    assert read_header(whole[: header_end[1] - 3]) is None  # cut inside an element
    assert read_header(whole[:100]) is None  # no preamble


def test_parse_instance_reports_the_same_either_way() -> None:
    ds = make_ct(1, seed=7)[0]
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    from_bytes = parse_instance(data)
    from_file = parse_instance(io.BytesIO(data))  # a file object takes pydicom's path
    for name in ("sop_uid", "sop_class_uid", "study_uid", "series_uid", "transfer_syntax",
                 "pixel_offset", "size"):
        assert getattr(from_bytes, name) == getattr(from_file, name), name
    assert raw_text(from_bytes.dataset, 0x00080018) == from_bytes.sop_uid
