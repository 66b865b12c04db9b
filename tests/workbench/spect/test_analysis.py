"""Accuracy against the phantom's truth on a small subset of the benchmark grid.

Tolerances are the issue's goals for one realisation each (the benchmark checks their
distribution over seeds): EF within 5 points, EDV within 10 %, ESV within 15 %, the long
axis within 5 degrees, defect segments found with sensitivity and specificity >= 90 %,
TID within 0.05; and the same input gives the same output.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from workbench.spect.analysis import LvAnalysis, StudyAnalysis, analyze_gated
from workbench.spect.lvframe import angle_between
from workbench.spect.phantom import Phantom, phantom_datasets
from workbench.spect.reorient import LongAxis
from workbench.spect.report import polar_maps, segment_table, study_to_dict, volume_table
from workbench.spect.segmentation import finish_lv, measure_lv
from workbench.spect.slices import surface_points
from workbench.spect.study import analyze_files
from workbench.spect.volume import make_volume


def test_normal_heart_function(normal_phantom: Phantom, normal_result: LvAnalysis) -> None:
    truth, curve = normal_phantom.truth, normal_result.curve
    assert curve is not None
    assert curve.ef_pct == pytest.approx(truth.ef_pct, abs=5.0)
    assert curve.edv_ml == pytest.approx(truth.edv_ml, rel=0.10)
    assert curve.esv_ml == pytest.approx(truth.esv_ml, rel=0.15)
    assert (curve.ed_gate, curve.es_gate) == (0, int(np.argmin(truth.volumes_ml)))
    assert angle_between(normal_result.long_axis.axis, truth.axis) < 5.0
    assert normal_result.myocardial_ml == pytest.approx(truth.myocardial_ml[0], rel=0.15)
    assert 9.0 < normal_result.resolution_fwhm_mm < 15.0  # 12 mm blur of 6.4 mm voxels
    assert curve.pfr_edv_s > 1.0 and curve.per_edv_s > 1.0 and curve.rr_interval_ms == 1000.0


def test_normal_heart_regional(normal_phantom: Phantom, normal_result: LvAnalysis) -> None:
    truth, r = normal_phantom.truth, normal_result
    assert r.motion_mm is not None and r.thickening_pct is not None and r.phase is not None
    motion = np.asarray(r.motion_mm)
    assert np.mean(motion[:6]) > np.mean(motion[12:16])  # the base moves more than the apex
    assert np.nanmean(motion) == pytest.approx(np.mean(truth.motion_mm), abs=3.0)
    assert np.nanmean(r.thickening_pct) == pytest.approx(np.mean(truth.thickening_pct), abs=20)
    assert r.phase.sd_deg < 20.0  # synchronous: noise only
    assert r.perfusion.values.shape == (36, 72)
    assert 0.9 < np.percentile(r.perfusion.values, 98) < 1.1


def test_dyssynchrony_raises_phase_sd(dyssynchronous: tuple[Phantom, LvAnalysis],
                                      normal_result: LvAnalysis) -> None:  # fmt: skip
    phantom, result = dyssynchronous
    assert result.phase is not None and normal_result.phase is not None
    assert result.phase.sd_deg > normal_result.phase.sd_deg + 5
    assert result.phase.sd_deg == pytest.approx(phantom.truth.phase_sd_deg, abs=15.0)
    assert result.phase.bandwidth_deg > normal_result.phase.bandwidth_deg
    assert result.curve is not None
    assert result.curve.ef_pct == pytest.approx(phantom.truth.ef_pct, abs=5.0)


def test_stress_and_rest_share_one_wall_model(pair_result: StudyAnalysis) -> None:
    """Blur and ED thickness are the patient's: pooled over both sets (pairing.py)."""
    assert pair_result.stress is not None and pair_result.rest is not None
    s, r = pair_result.stress.segmentation.wall, pair_result.rest.segmentation.wall
    assert s.fitted and r.fitted
    assert s.sigma_mm == pytest.approx(r.sigma_mm)            # one camera, one blur
    # one wall, thinner in the dilated stress LV (partly: see pairing.py)
    assert 7.0 < s.thickness_ed_mm < r.thickness_ed_mm < 13.0
    assert r.thickness_ed_mm / s.thickness_ed_mm < 1.25 ** (2 / 3)
    # the count levels stay each set's own
    assert (s.concentration, s.blood) != (r.concentration, r.blood)


def test_a_known_thickness_is_kept_by_the_wall_fit(normal_phantom: Phantom) -> None:
    ph = normal_phantom
    m = measure_lv(make_volume(ph.counts, ph.affine))
    seg = finish_lv(m, ed_thickness_mm=8.5)
    assert seg.wall.fitted and seg.wall.thickness_ed_mm == 8.5
    assert finish_lv(m).wall.thickness_ed_mm != 8.5


def test_stress_rest_pair(pair_phantoms: tuple[Phantom, Phantom], pair_result: StudyAnalysis,
                          ) -> None:  # fmt: skip
    stress, rest = pair_phantoms
    study = pair_result
    assert study.stress_scores is not None and study.rest_scores is not None
    tp = fn = fp = tn = 0  # over the 34 segments of both sets, as the benchmark counts
    for truth, scores in ((stress.truth, study.stress_scores), (rest.truth, study.rest_scores)):
        found = {s for s, v in enumerate(scores.scores, start=1) if v >= 1}
        defects = truth.defect_segments
        tp, fn = tp + len(found & defects), fn + len(defects - found)
        fp, tn = fp + len(found - defects), tn + 17 - len(found | defects)
    assert tp / (tp + fn) >= 0.9 and tn / (tn + fp) >= 0.9, (tp, fn, fp, tn)
    assert study.tid == pytest.approx(1.25, abs=0.05)
    assert study.sss is not None and study.srs is not None and study.sds is not None
    assert study.sss > study.srs > 0 and study.sds == study.sss - study.srs
    assert study.difference_scores is not None
    lad = [study.difference_scores[s - 1] for s in (7, 8, 13, 14, 17)]
    rca = [study.difference_scores[s - 1] for s in (4, 10, 15)]
    assert sum(lad) > sum(rca)  # LAD reversible, RCA fixed
    assert study.ischemic_extent_pct is not None and study.ischemic_extent_pct > 5.0
    for phantom, result in ((stress, study.stress), (rest, study.rest)):
        assert result is not None and result.curve is not None
        assert result.curve.ef_pct == pytest.approx(phantom.truth.ef_pct, abs=5.0)


def test_report_is_json(pair_result: StudyAnalysis) -> None:
    report = study_to_dict(pair_result)
    text = json.dumps(report)
    back = json.loads(text)
    for key in ("sss", "srs", "sds", "tid", "stress", "rest", "normal_limits"):
        assert key in back
    for name in ("stress", "rest"):
        entry = back[name]
        for key in ("edv_ml", "esv_ml", "sv_ml", "lvef_pct", "volume_curve", "segment_scores",
                    "phase", "wall_motion_mm", "wall_thickening_pct"):  # fmt: skip
            assert key in entry, key
        assert len(entry["segment_scores"]) == 17 and len(entry["volume_curve"]["volume_ml"]) == 8
        assert entry["phase"]["bandwidth_deg"] > 0
    table = segment_table(pair_result)
    assert len(table) == 17 and table.loc[4, "name"] == "basal inferior"
    assert {"stress_score", "rest_score", "difference_score"} <= set(table.columns)
    assert pair_result.rest is not None
    assert len(volume_table(pair_result.rest)) == 8
    assert set(polar_maps(pair_result.rest)) == {"perfusion", "motion", "thickening", "phase"}


def test_contours_lie_in_the_wall(normal_phantom: Phantom, normal_result: LvAnalysis) -> None:
    seg = normal_result.segmentation
    ed = seg.gates[seg.ed_gate]
    endo, epi = surface_points(seg, seg.ed_gate, "endo"), surface_points(seg, seg.ed_gate, "epi")
    inside = ed.h > 0.3
    gap = np.linalg.norm(epi - endo, axis=-1)[inside]
    assert np.median(gap) == pytest.approx(normal_result.wall_ed_mm, rel=0.2)
    axis = np.asarray(normal_phantom.truth.axis)
    apex = np.asarray(normal_phantom.truth.apex_mm)
    radial = endo - apex - ((endo - apex) @ axis)[..., None] * axis
    assert 15.0 < np.median(np.linalg.norm(radial, axis=-1)[inside]) < 35.0


def test_files_give_the_same_result(tmp_path: Path, pair_phantoms: tuple[Phantom, Phantom],
                                    pair_result: StudyAnalysis) -> None:  # fmt: skip
    """DICOM files in a folder (what the CLI reads) give bit-identical results: the
    loader is exact and the analysis deterministic."""
    for ds in phantom_datasets(list(pair_phantoms)):
        pydicom.dcmwrite(tmp_path / f"{ds.SeriesNumber}.dcm", ds, enforce_file_format=True)
    from_files = analyze_files([tmp_path])
    assert from_files.stress is not None and from_files.stress.curve is not None
    assert pair_result.stress is not None and pair_result.stress.curve is not None
    assert from_files.stress.curve.volumes_ml == pair_result.stress.curve.volumes_ml
    report, expected = study_to_dict(from_files), study_to_dict(pair_result)
    for name in ("stress", "rest"):  # the files add the R-R interval: rates in EDV/s
        for key in ("volume_curve", "per_edv_per_s", "pfr_edv_per_s", "ttpf_ms",
                    "rr_interval_ms"):  # fmt: skip
            report[name].pop(key), expected[name].pop(key)
    assert report == expected


def test_manual_long_axis_and_known_resolution(normal_phantom: Phantom) -> None:
    truth = normal_phantom.truth
    centre = (np.asarray(truth.apex_mm) + np.asarray(truth.base_mm[0])) / 2
    axis = LongAxis(tuple(centre.tolist()), truth.axis)  # type: ignore[arg-type]
    volume = make_volume(normal_phantom.counts, normal_phantom.affine)
    result = analyze_gated(volume, long_axis=axis, resolution_fwhm_mm=12.9)
    assert result.long_axis == axis
    assert result.resolution_fwhm_mm == pytest.approx(12.9)
    assert result.curve is not None
    assert result.curve.ef_pct == pytest.approx(truth.ef_pct, abs=5.0)


def test_ungated_volume_gives_perfusion_only(normal_phantom: Phantom) -> None:
    summed = normal_phantom.counts.sum(axis=0)
    result = analyze_gated(make_volume(summed, normal_phantom.affine))
    assert result.curve is None and result.phase is None and result.motion_mm is None
    assert result.perfusion.values.shape == (36, 72)
    mean_volume = float(np.mean(normal_phantom.truth.volumes_ml))
    assert result.ungated_volume_ml == pytest.approx(mean_volume, rel=0.25)


def test_command_line_analyzes_files(tmp_path: Path) -> None:
    import subprocess
    import sys

    from workbench.spect.phantom import PhantomSpec, make_phantom, phantom_datasets

    datasets = phantom_datasets([make_phantom(PhantomSpec(seed=3))])
    paths = []
    for i, ds in enumerate(datasets):
        paths.append(tmp_path / f"nm{i}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    out = tmp_path / "result.json"
    run = subprocess.run([sys.executable, "-m", "workbench.cli", "spect", "analyze",
                          *map(str, paths), "--json", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    sets = [result[name] for name in ("stress", "rest") if name in result]
    assert len(sets) == 1 and len(sets[0]["segment_scores"]) == 17
    assert result["tid"] is None  # one set: no transient ischemic dilation ratio
    bad = subprocess.run([sys.executable, "-m", "workbench.cli", "spect", "analyze",
                          str(tmp_path / "missing.dcm")], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "error" in bad.stderr
