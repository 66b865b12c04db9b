"""``workbench measure volume`` on a ball of known radius: from a folder and from the archive."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.conftest import RunningArchive
from tests.synth import write_files
from tests.workbench.measure.sphere_series import INSIDE_HU, RADIUS, SphereSeries, sphere_series
from workbench.cli import main
from workbench.dicomweb.client import HttpArchiveClient
from workbench.imaging.volume import series_volume
from workbench.measure.seg import read_segmentation
from workbench.measure.seg_archive import find_segmentations, read_archived_masks

BALL_ML = 4 / 3 * math.pi * RADIUS**3 / 1000


@pytest.fixture(scope="module")
def ball() -> SphereSeries:
    return sphere_series()


@pytest.fixture(scope="module")
def folder(ball: SphereSeries, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("ball")
    write_files(ball.slices, where / "series")
    (where / "series" / "notes.txt").write_text("not DICOM, skipped")
    return where


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["measure", "volume", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_volume_is_exact_by_voxels_and_within_1_percent_by_surface(
        ball: SphereSeries, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(folder), f"--seed={ball.seed}", "--lower", "0",
                         "--json", "--quiet")
    assert code == 0, err
    result = json.loads(out)
    assert result["voxel_count"] == ball.inside
    assert result["voxel_volume_ml"] == pytest.approx(ball.inside / 1000, rel=1e-12)
    assert abs(result["surface_volume_ml"] / BALL_ML - 1) < 0.01
    assert abs(result["surface_area_mm2"] / (4 * math.pi * RADIUS**2) - 1) < 0.02
    assert result["mean"] == INSIDE_HU and result["std"] == 0 and result["unit"] == "HU"
    assert result["centroid_mm"] == pytest.approx(list(ball.centre), abs=0.05)
    assert result["study_uid"] == ball.study_uid and result["slices"] == len(ball.slices)
    assert result["seg"] is None and err == ""


def test_table_with_progress_and_seg_file(ball: SphereSeries, folder: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    seg_file = tmp_path / "ball-seg.dcm"
    code, out, err = run(capsys, str(folder), "--seed", ball.seed, "--lower", "0",
                         "--upper", "100", "--seg-out", str(seg_file), "--label", "ball")
    assert code == 0, err
    assert "reading" in err  # the tqdm bar, on standard error
    lines = dict(line.split("  ", 1) for line in out.splitlines())
    assert lines["volume (voxels)"].strip() == f"{ball.inside / 1000:.6g} mL ({ball.inside} voxels)"
    assert lines["volume (surface)"].strip().endswith(" mL")
    assert lines["range"].strip() == "0 .. 100 HU"
    assert str(seg_file) in lines["segmentation"]
    seg = dcmread(seg_file)
    assert seg.SegmentSequence[0].SegmentLabel == "ball"
    mask = read_segmentation(seg, series_volume(ball.slices))
    assert int(mask.sum()) == ball.inside


def test_a_seed_outside_the_volume_is_named(folder: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    code, out, err = run(capsys, str(folder), "--seed", "500,0,0", "--lower", "0", "--quiet")
    assert code == 2 and out == ""
    assert "seed (500, 0, 0) mm lies outside the volume" in err
    assert "x -27.5..27.5" in err  # where the volume is


def test_bad_seeds_and_sources_are_refused(folder: Path, ball: SphereSeries,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(folder), "--seed", "1,2", "--quiet")
    assert code == 2 and "seed '1,2' is not X,Y,Z" in err
    code, _, err = run(capsys, str(folder), f"--seed={ball.seed}", "--lower", "100",
                       "--quiet")
    assert code == 2 and "has value 60, outside [100.0, None]" in err
    code, _, err = run(capsys, "no/such/folder", "--seed", "0,0,0", "--quiet")
    assert code == 2 and "'no/such/folder' is neither a folder nor a study or series UID" in err


def test_study_uid_on_the_archive_measured_and_stored_as_seg(
        archive: RunningArchive, capsys: pytest.CaptureFixture[str]) -> None:
    ball = sphere_series(seed=52)
    with HttpArchiveClient(archive.dicomweb, token=archive.token) as client:
        assert client.store_instances(ball.slices).ok
        code, out, err = run(capsys, ball.study_uid, f"--seed={ball.seed}", "--lower", "0",
                             "--json", "--store", "--url", archive.dicomweb,
                             "--token", archive.token, "--quiet")
        assert code == 0, err
        result = json.loads(out)
        assert result["voxel_count"] == ball.inside
        assert result["source"] == archive.dicomweb
        assert result["seg"]["stored"] and result["seg"]["file"] is None
        # the SEG is in the study now, and reads back onto the series voxel for voxel
        found = find_segmentations(client, ball.study_uid)
        assert [s.sop_instance_uid for s in found] == [result["seg"]["sop_instance_uid"]]
        volume = series_volume(ball.slices)
        (back,) = read_archived_masks(client, ball.study_uid, volume)
        assert int(back.mask.sum()) == ball.inside and back.label == "region"
        # a series UID works as well; with the study's UID, the SEG series is not taken
        for uid in (str(ball.slices[0].SeriesInstanceUID), ball.study_uid):
            code, out, err = run(capsys, uid, f"--seed={ball.seed}", "--lower", "0", "--json",
                                 "--url", archive.dicomweb, "--token", archive.token,
                                 "--quiet")
            assert code == 0, err
            again = json.loads(out)
            assert again["series_uid"] == result["series_uid"] == ball.slices[0].SeriesInstanceUID
            assert again["voxel_count"] == ball.inside


def test_unknown_uid_and_wrong_token_on_the_archive(archive: RunningArchive,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "1.2.3.999", "--seed", "0,0,0", "--url", archive.dicomweb,
                       "--token", archive.token, "--quiet")
    assert code == 2 and "no study or series with UID 1.2.3.999" in err
    code, _, err = run(capsys, "1.2.3.999", "--seed", "0,0,0", "--url", archive.dicomweb,
                       "--token", "not-a-token", "--quiet")
    assert code == 2 and "HTTP 401" in err
