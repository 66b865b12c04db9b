"""Key Object Selection documents: written with highdicom, read back the same."""

from __future__ import annotations

import io

import pydicom
import pytest

from tests.synth import make_ct, make_xa
from workbench.dicom.kos import KOS_SOP_CLASS, key_images, key_object_selection


def _reread(ds: pydicom.Dataset) -> pydicom.Dataset:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


def test_frames_and_note_survive_a_file_round_trip() -> None:
    xa = make_xa(seed=4)
    document = _reread(key_object_selection([xa], note="culprit lesion",
                                            frames={str(xa.SOPInstanceUID): [2, 3]}))
    assert document.SOPClassUID == KOS_SOP_CLASS
    assert document.StudyInstanceUID == xa.StudyInstanceUID
    selection = key_images(document)
    assert selection.note == "culprit lesion"
    assert [(k.sop_instance_uid, k.frames) for k in selection.images] == [
        (str(xa.SOPInstanceUID), (2, 3))]


def test_refuses_what_is_not_one_study_or_not_a_kos() -> None:
    with pytest.raises(ValueError, match="one study"):
        key_object_selection([make_ct(n=1, seed=1)[0], make_ct(n=1, seed=2)[0]])
    with pytest.raises(ValueError, match="at least one"):
        key_object_selection([])
    with pytest.raises(ValueError, match="not a Key Object Selection"):
        key_images(make_ct(n=1, seed=1)[0])
