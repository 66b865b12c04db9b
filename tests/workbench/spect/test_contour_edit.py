"""Contour edits: a clicked point becomes wall offsets; the wall moves there, and only there.

One measurement of the normal phantom (12 mm FWHM) is finished with and without edits.
A point 4 mm outside the end-diastolic endocardium of one ray must move that ray's
endocardium by 4 mm in every gate, leave the opposite wall where it was, enlarge the
cavity, and a second edit back at the old place must undo it. Points the edit cannot use
are refused with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.workbench.spect.cases import SMALL
from workbench.spect.analysis import analysis_of
from workbench.spect.contour_edit import ContourEdit, edit_offsets, nearest_ray
from workbench.spect.display import slice_row
from workbench.spect.phantom import Phantom, make_phantom
from workbench.spect.segmentation import (
    LvMeasurement,
    LvSegmentation,
    finish_lv,
    measure_lv,
)
from workbench.spect.slices import surface_points
from workbench.spect.volume import make_volume
from workbench.viewer.spect import SpectDashboard


@pytest.fixture(scope="module")
def measured(normal_phantom: Phantom) -> tuple[LvMeasurement, LvSegmentation]:
    ph = normal_phantom
    m = measure_lv(make_volume(ph.counts, ph.affine, attrs={"rr_interval_ms": 1000.0}))
    return m, finish_lv(m)


def endo_point(seg: LvSegmentation, gate: int, ring: int, sector: int) -> np.ndarray:
    return np.asarray(surface_points(seg, gate, "endo")[ring, sector])


def test_an_edit_moves_the_wall_through_the_point_in_every_gate(
        measured: tuple[LvMeasurement, LvSegmentation]) -> None:
    m, seg = measured
    assert not seg.edited and seg.wall_offsets_mm is None
    ring, sector, ed = seg.grid.n_cap + 6, 10, seg.ed_gate
    _, dirs = seg.grid.rays()
    before = endo_point(seg, ed, ring, sector)
    clicked = before + 4.0 * dirs[ring, sector]           # 4 mm outwards along the ray
    hit = nearest_ray(seg, clicked)
    assert (hit.ring, hit.sector) == (ring, sector) and hit.off_ray_mm < 2.0

    offsets = edit_offsets(seg, ContourEdit(tuple(clicked), ed))
    assert offsets.shape == seg.grid.shape
    assert offsets[ring, sector] == pytest.approx(4.0, abs=0.05)
    edited = finish_lv(m, wall_offsets_mm=offsets)
    assert edited.edited and np.array_equal(edited.wall_offsets_mm, offsets)
    after = endo_point(edited, ed, ring, sector)
    assert float((after - before) @ dirs[ring, sector]) == pytest.approx(4.0, abs=0.3)
    assert np.linalg.norm(after - clicked) < 1.5
    for gate in range(len(seg.gates)):      # the same correction in every gate
        moved = endo_point(edited, gate, ring, sector) - endo_point(seg, gate, ring, sector)
        assert float(moved @ dirs[ring, sector]) == pytest.approx(4.0, abs=0.5), gate
    opposite = (sector + len(seg.grid.theta_deg) // 2) % len(seg.grid.theta_deg)
    assert np.linalg.norm(endo_point(edited, ed, ring, opposite)
                          - endo_point(seg, ed, ring, opposite)) < 0.05
    base, bigger = analysis_of(seg, 1000.0), analysis_of(edited, 1000.0)
    assert base.curve is not None and bigger.curve is not None
    assert 0.2 < bigger.curve.edv_ml - base.curve.edv_ml < 3.0      # a local bulge

    # an edit at the old place, on the edited contours, takes it back
    undone = edit_offsets(edited, ContourEdit(tuple(before), ed))
    assert np.max(np.abs(undone)) < 0.1


def test_points_the_edit_cannot_use_are_refused(
        measured: tuple[LvMeasurement, LvSegmentation]) -> None:
    m, seg = measured
    ring, sector, ed = seg.grid.n_cap + 6, 10, seg.ed_gate
    origins, dirs = seg.grid.rays()
    endo = endo_point(seg, ed, ring, sector)
    with pytest.raises(ValueError, match="at most 15 mm"):
        edit_offsets(seg, ContourEdit(tuple(endo + 20.0 * dirs[ring, sector]), ed))
    far = np.asarray(seg.long_axis.origin) + 300.0 * np.asarray(seg.long_axis.frame.anterior)
    with pytest.raises(ValueError, match="from the sampled left ventricle"):
        edit_offsets(seg, ContourEdit(tuple(far), ed))
    basal = int(np.argmax(np.all(seg.gates[ed].h < 0.0, axis=1)))   # a ring below the valve
    assert basal > 0
    below = np.asarray(origins[basal, sector]) + 20.0 * dirs[basal, sector]
    with pytest.raises(ValueError, match="below the valve plane"):
        edit_offsets(seg, ContourEdit(tuple(below), ed))
    with pytest.raises(ValueError, match="gate 99"):
        edit_offsets(seg, ContourEdit(tuple(endo), 99))
    with pytest.raises(ValueError, match="belong to the long axis"):
        finish_lv(m, wall_offsets_mm=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="within \\+-15 mm"):
        finish_lv(m, wall_offsets_mm=np.full(seg.grid.shape, 16.0))


def test_slice_row_positions_map_back_to_the_contours(
        measured: tuple[LvMeasurement, LvSegmentation], normal_phantom: Phantom) -> None:
    _, seg = measured
    ph = normal_phantom
    row = slice_row(make_volume(ph.counts, ph.affine), seg, "sa")
    gate = seg.ed_gate
    x0, y0 = (float(v) for v in row.endo[gate][len(row.endo[gate]) // 2, :2])
    point = np.asarray(row.point_mm(x0, y0))
    endo = surface_points(seg, gate, "endo")[seg.gates[gate].h >= 0.0]
    assert float(np.min(np.linalg.norm(endo - point, axis=1))) < 2.0   # on the endocardium


def test_dashboard_edits_and_resets_contours() -> None:
    ph = make_phantom(SMALL)
    dash = SpectDashboard(make_volume(ph.counts, ph.affine), background=False)
    assert dash.data is not None and dash.data.study.stress is not None
    before = dash.data.study.stress
    assert before.curve is not None
    row = dash.data.rows[("stress", "sa")]
    gate = dash.gate * row.n_gates // dash._gates()
    segments = row.endo[gate]
    x0, y0 = (float(v) for v in segments[len(segments) // 2, :2])
    k = int(x0 // row.tile)
    centre = np.array([k * row.tile + row.tile / 2, row.tile / 2])   # the long axis
    outwards = (np.array([x0, y0]) - centre) / np.linalg.norm(np.array([x0, y0]) - centre)
    x, y = np.array([x0, y0]) + outwards * 4.0 / row.spacing_mm    # 4 mm outside

    dash.edit_contour("stress", "sa", 0.5, 0.5)      # a tile corner: outside the LV
    assert dash.status.startswith("Contour not changed:") and dash.data.study.stress is before
    dash.edit_contour("stress", "sa", float(x), float(y))
    after = dash.data.study.stress
    assert after is not None and after.curve is not None and not dash.busy
    assert after.segmentation.edited and after.long_axis == before.long_axis
    assert after.curve.edv_ml > before.curve.edv_ml
    assert "Contours edited by the reader: stress" in str(dash._table.object)

    dash.reset_contours()
    reset = dash.data.study.stress
    assert reset is not None and reset.curve is not None and not reset.segmentation.edited
    assert reset.curve.edv_ml == pytest.approx(before.curve.edv_ml, abs=1.0)
    assert "Contours edited" not in str(dash._table.object)
