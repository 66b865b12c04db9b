"""notebooks/volumetrics.ipynb executed by papermill against a real archive and a folder.

A CT series of a ball of radius :data:`RADIUS` mm at 1 mm voxels
(:mod:`tests.workbench.measure.sphere_series`) is stored over STOW-RS. The notebook grows
the region from the ball's centre: the CSV must count exactly the voxels inside and give
the analytic volume within 1 % by the surface method; the picture of the slices and the
3D surface is written; the SEG it stores in the archive must hold the same mask, and the
one it writes to a file must too. The same run on a folder of the files gives the same
numbers without an archive.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import papermill
import pytest
from pydicom import dcmread

from tests.conftest import ROOT, RunningArchive, start_archive, stop_archive
from tests.server.people import stow
from tests.workbench.measure.sphere_series import (
    INSIDE_HU,
    OUTSIDE_HU,
    RADIUS,
    SphereSeries,
    sphere_series,
)
from workbench.dicomweb.client import HttpArchiveClient
from workbench.imaging.volume import series_volume
from workbench.measure.seg import read_segmentation
from workbench.measure.seg_archive import read_archived_masks

pytestmark = pytest.mark.slow  # starts a kernel
NOTEBOOK = ROOT / "notebooks" / "volumetrics.ipynb"


@pytest.fixture(scope="module")
def ball(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningArchive,
                                                                     SphereSeries]]:
    site = start_archive(tmp_path_factory.mktemp("volumetrics") / "data")
    try:
        series = sphere_series(seed=61, n=48, size=52)
        assert stow(site, site.headers, series.slices).status_code == 200
        yield site, series
    finally:
        stop_archive(site)


def _run(tmp_path: Path, centre: tuple[float, float, float], **parameters: object
         ) -> pd.DataFrame:
    papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "executed.ipynb"),
        parameters={"seeds": [list(centre)], "lower": (INSIDE_HU + OUTSIDE_HU) / 2,
                    **parameters},
        cwd=str(tmp_path), progress_bar=False)
    return pd.read_csv(tmp_path / "volumetrics.csv")


def _check_row(table: pd.DataFrame, series: SphereSeries) -> None:
    """The tidy table: one row per quantity of the one measured region."""
    values = dict(zip(table["quantity"], table["value"], strict=True))
    units = dict(zip(table["quantity"], table["unit"], strict=True))
    assert values["voxel count"] == series.inside
    assert values["volume (voxels)"] == pytest.approx(series.inside / 1000)
    assert values["volume (surface)"] == pytest.approx(4 / 3 * math.pi * RADIUS**3 / 1000,
                                                       rel=0.01)
    assert units["volume (surface)"] == "mL" and units["mean"] == "HU"
    assert values["mean"] == pytest.approx(INSIDE_HU)
    assert set(table["calibration"]) == {"VOLUME"}


def test_from_the_archive_with_the_seg_stored_back(
        ball: tuple[RunningArchive, SphereSeries], tmp_path: Path) -> None:
    site, series = ball
    series_uid = str(series.slices[0].SeriesInstanceUID)
    table = _run(tmp_path, centre=series.centre, archive_url=site.dicomweb, token=site.token,
                 study_uid=series.study_uid, series_uid=series_uid,
                 output_seg="ball-seg.dcm", store_seg=True, label="ball")
    _check_row(table, series)
    assert (tmp_path / "volumetrics.png").stat().st_size > 10_000

    volume = series_volume(series.slices)
    written = read_segmentation(dcmread(tmp_path / "ball-seg.dcm"), volume)
    with HttpArchiveClient(site.dicomweb, token=site.token) as client:
        stored = read_archived_masks(client, series.study_uid, volume)
    [archived] = stored
    assert archived.label == "ball"
    for mask in (archived.mask, written):
        assert int(np.asarray(mask.values).sum()) == series.inside


def test_from_a_folder_without_an_archive(ball: tuple[RunningArchive, SphereSeries],
                                          tmp_path: Path) -> None:
    _, series = ball
    folder = tmp_path / "files"
    folder.mkdir()
    for k, ds in enumerate(series.slices):
        ds.save_as(folder / f"{k:03d}.dcm", enforce_file_format=True)
    table = _run(tmp_path, centre=series.centre, folder=str(folder),
                 study_uid=series.study_uid, series_uid=str(series.slices[0].SeriesInstanceUID))
    _check_row(table, series)
