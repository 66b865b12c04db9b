"""A local-folder archive with one study of every kind, for the viewer's unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from tests.synth import make_ct, make_ecg, make_patient, make_us, make_xa, write_files
from tests.workbench.viewer.documents import make_pdf
from workbench.dicomweb.local_archive import LocalFolderArchiveClient

STUDY = "2.25.77001"
OTHER_STUDY = "2.25.77002"
XSS_NAME = "<script>alert(1)</script>^<b>bold</b>"


@pytest.fixture(scope="module")
def instances() -> dict[str, list[Dataset]]:
    """The instances by series kind (CT shuffled by Instance Number on purpose)."""
    study: dict[str, Any] = {"study_uid": STUDY, "study_date": "20260310", "accession": "ACC-1",
             "study_description": "CHEST", "patient": make_patient(3)}
    ct = make_ct(n=6, seed=3, series_number=2, **study)
    for ds, number in zip(ct, (4, 1, 6, 2, 5, 3), strict=True):
        ds.InstanceNumber = number  # geometry, not numbers, orders slices
    other = make_ct(n=2, seed=9, patient=make_patient(4), study_uid=OTHER_STUDY,
                    study_date="20250101", accession="ACC-2")
    for ds in other:
        ds.PatientName = XSS_NAME
    return {"ct": ct, "us": [make_us(n_frames=5, seed=3, series_number=3, **study)],
            "xa": [make_xa(n_frames=4, seed=3, series_number=4, **study)],
            "ecg": [make_ecg(seed=3, series_number=5, **study)],
            "pdf": [make_pdf(ct[0], series_number=1)], "other": other}


@pytest.fixture(scope="module")
def archive(instances: dict[str, list[Dataset]], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[LocalFolderArchiveClient]:
    """The instances in a local-folder archive (the ArchiveClient's second implementation)."""
    folder: Path = tmp_path_factory.mktemp("viewer-archive")
    write_files([ds for group in instances.values() for ds in group], folder)
    with LocalFolderArchiveClient(folder) as client:
        yield client


def series_uid(instances: dict[str, list[Dataset]], kind: str) -> str:
    """The SeriesInstanceUID of a kind of the fixture's study."""
    return str(instances[kind][0].SeriesInstanceUID)
