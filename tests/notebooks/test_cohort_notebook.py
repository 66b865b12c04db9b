"""notebooks/cohort_volumes.ipynb on Dask, executed by papermill against a real archive.

Three synthetic CT studies (1 mm voxels) each hold a sphere of a different radius
(:data:`tests.workbench.measure.phantoms.INSIDE_HU` inside, ``OUTSIDE_HU`` around), stored
over STOW-RS. The notebook measures them on a two-process LocalCluster; each row must
count exactly the voxels whose centres lie in its sphere, and the smoothed surface must
enclose the sphere's volume within 3 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import papermill
import pytest
from pydicom import Dataset

from tests.conftest import ROOT, RunningArchive, start_archive, stop_archive
from tests.server.people import stow
from tests.synth import make_ct, make_patient
from tests.workbench.measure.phantoms import INSIDE_HU, OUTSIDE_HU

pytest.importorskip("dask.distributed", reason="needs dask[distributed] (analysis extra)")
pytestmark = pytest.mark.slow  # starts a kernel and a LocalCluster

RADII = {"P1": 6.0, "P2": 8.0, "P3": 10.0}  # patient ID -> sphere radius, mm
SIZE = 28  # rows, columns and slices at 1 mm
CENTRE = np.array([0.4, -0.3, 0.2])  # LPS mm, off the voxel grid


def sphere_study(patient_id: str, radius: float, seed: int) -> tuple[list[Dataset], int]:
    """A CT study of a sphere about :data:`CENTRE`, and how many voxel centres it holds."""
    patient = make_patient(seed, seed=seed)
    slices = make_ct(SIZE, seed=seed, rows=SIZE, columns=SIZE, patient=patient,
                     pixel_spacing=1.0, slice_thickness=1.0)
    inside_count = 0
    for ds in slices:
        ds.PatientID = patient_id
        x0, y0, z = (float(v) for v in ds.ImagePositionPatient)
        yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
        d2 = (x0 + xx - CENTRE[0]) ** 2 + (y0 + yy - CENTRE[1]) ** 2 + (z - CENTRE[2]) ** 2
        inside = d2 <= radius**2
        inside_count += int(inside.sum())
        hu = np.where(inside, INSIDE_HU, OUTSIDE_HU)
        ds.PixelData = (hu + 1024).astype("<u2").tobytes()  # Rescale Intercept -1024
    return slices, inside_count


@pytest.fixture(scope="module")
def spheres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningArchive,
                                                                        dict[str, int]]]:
    site = start_archive(tmp_path_factory.mktemp("cohort") / "data")
    try:
        counts = {}
        for seed, (patient_id, radius) in enumerate(RADII.items(), start=41):
            datasets, counts[patient_id] = sphere_study(patient_id, radius, seed)
            assert stow(site, site.headers, datasets).status_code == 200
        yield site, counts
    finally:
        stop_archive(site)


def test_cohort_notebook_measures_every_sphere(spheres: tuple[RunningArchive, dict[str, int]],
                                               tmp_path: Path) -> None:
    site, counts = spheres
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "cohort_volumes.ipynb"), str(tmp_path / "executed.ipynb"),
        parameters={"archive_url": site.dicomweb, "token": site.token, "n_workers": 2,
                    "lower": (INSIDE_HU + OUTSIDE_HU) / 2},
        cwd=str(tmp_path), progress_bar=False)
    table = pd.read_csv(tmp_path / "cohort_volumes.csv", dtype={"patient_id": str})
    assert list(table["patient_id"]) == list(RADII)  # every study once, sorted
    assert set(table["slices"]) == {SIZE} and set(table["unit"]) == {"HU"}
    for row in table.itertuples():
        radius = RADII[row.patient_id]
        assert row.voxel_count == counts[row.patient_id]
        assert row.voxel_volume_ml == pytest.approx(row.voxel_count / 1000)
        assert row.surface_volume_ml == pytest.approx(4 / 3 * math.pi * radius**3 / 1000,
                                                      rel=0.03)
        assert row.mean == pytest.approx(INSIDE_HU)
    assert (tmp_path / "cohort_volumes.png").stat().st_size > 1000
