"""The reader's corrections (valve plane, axis origin) and the exports, without an archive.

The valve-plane override is checked against the phantom's geometry: the cavity between
the detected plane and the plane moved N mm towards the apex is a slice of the truncated
spheroid, ``pi Rn^2 (g(Ln, b) - g(Ln, b - N))`` at end-diastole. Report values are
checked against the template's own validation; the SR round trip against
``study_to_dict``.
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from tests.workbench.spect.cases import SMALL
from workbench.reports import builtin_templates
from workbench.reports.sources import measurements_from_sr
from workbench.spect.analysis import StudyAnalysis, analysis_of, analyze_gated
from workbench.spect.export_sr import read_spect_sr, spect_sr
from workbench.spect.lvframe import angle_between
from workbench.spect.phantom import Phantom, make_phantom, phantom_datasets
from workbench.spect.phantom.heart import HeartModel
from workbench.spect.reorient import LongAxis, shifted
from workbench.spect.report import study_to_dict
from workbench.spect.report_fields import findings_text, report_values
from workbench.spect.segmentation import finish_lv, measure_lv
from workbench.spect.volume import make_volume
from workbench.viewer.spect import SpectDashboard


def _cut_spheroid_ml(model: HeartModel, above_mm: float) -> float:
    """ED cavity of the phantom between its apex and a plane `above_mm` over the centre."""
    m = model.meridian(0.0, np.arange(0.0, 360.0, 2.0))
    length = m.Ln
    g = (length + above_mm) - (length**3 + above_mm**3) / (3 * length**2)
    return float(np.pi * np.mean(m.Rn**2) * g) / 1000.0


def test_valve_plane_override_follows_the_geometry(normal_phantom: Phantom) -> None:
    ph = normal_phantom
    volume = make_volume(ph.counts, ph.affine, attrs={"rr_interval_ms": 1000.0})
    measured = measure_lv(volume)
    base = analysis_of(finish_lv(measured), 1000.0)
    reference = analyze_gated(volume)
    assert base.curve is not None and reference.curve is not None
    # no override: the analysis is the one the accuracy figures were measured with
    assert base.curve.volumes_ml == reference.curve.volumes_ml
    assert base.segmentation.valve_shift_mm == 0.0
    model = HeartModel(ph.spec)
    above = model.meridian(0.0, np.zeros(1)).above
    for shift in (10.0, -8.0):
        moved = analysis_of(finish_lv(measured, valve_shift_mm=shift), 1000.0)
        assert moved.curve is not None and moved.segmentation.valve_shift_mm == shift
        predicted = _cut_spheroid_ml(model, above) - _cut_spheroid_ml(model, above - shift)
        change = base.curve.edv_ml - moved.curve.edv_ml
        assert change == pytest.approx(predicted, rel=0.10), shift
        # the planes moved by the shift in every gate; the wall model did not change
        ed = moved.segmentation.gates[moved.curve.ed_gate]
        ed0 = base.segmentation.gates[base.curve.ed_gate]
        assert np.allclose(ed.z_valve - ed0.z_valve, shift)
        assert moved.wall_ed_mm == base.wall_ed_mm
        assert moved.resolution_fwhm_mm == base.resolution_fwhm_mm
    with pytest.raises(ValueError, match="valve_shift_mm must be within"):
        finish_lv(measured, valve_shift_mm=25.0)


def test_origin_shift_moves_the_axis_sideways() -> None:
    axis = LongAxis((10.0, 20.0, 30.0), (0.6, -0.6, -0.5))
    moved = shifted(axis, 4.0, -3.0)
    assert np.allclose(moved.axis, axis.axis, atol=1e-12)
    offset = np.subtract(moved.origin, axis.origin)
    assert float(offset @ np.asarray(axis.axis)) == pytest.approx(0.0, abs=1e-9)
    assert float(offset @ np.asarray(axis.frame.anterior)) == pytest.approx(4.0)
    assert float(offset @ np.asarray(axis.frame.septal)) == pytest.approx(-3.0)


def test_report_values_fill_the_mpi_template(pair_result: StudyAnalysis) -> None:
    study = pair_result
    values = report_values(study)
    template = builtin_templates().get("nuclear-cardiology-mpi")
    assert template.validate_values(values) == values
    assert study.stress and study.stress.curve and study.stress_scores and study.rest_scores
    assert values["segment_scores"]["stress"] == list(study.stress_scores.scores)
    assert values["segment_scores"]["rest"] == list(study.rest_scores.scores)
    assert values["segment_scores"]["sds"] == study.sds
    assert values["lvef"] == {"value": round(study.stress.curve.ef_pct), "unit": "%"}
    assert values["edv"] == {"value": round(study.stress.curve.edv_ml), "unit": "mL"}
    assert values["esv"] == {"value": round(study.stress.curve.esv_ml), "unit": "mL"}
    assert study.tid is not None
    assert values["tid_ratio"] == {"value": round(study.tid, 2), "unit": "{ratio}"}
    assert "wall_motion" not in values and "impression" not in values  # the physician's
    text = findings_text(study)
    assert f"SSS {study.sss}, SRS {study.srs}, SDS {study.sds}" in text
    assert "mid anterior" in text                                # the LAD defect, scored
    with pytest.raises(ValueError, match="not 'free-text'"):
        report_values(study, builtin_templates().get("free-text"))


def test_sr_round_trip(pair_phantoms: tuple[Phantom, Phantom],
                       pair_result: StudyAnalysis) -> None:
    evidence = phantom_datasets(list(pair_phantoms))
    sr = spect_sr(pair_result, evidence, observer_name="Reader^Ann")
    ds = pydicom.dcmread(io.BytesIO(_bytes(sr)))
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert ds.StudyInstanceUID == evidence[0].StudyInstanceUID
    assert ds.PatientID == evidence[0].PatientID
    referenced = {item.SeriesInstanceUID
                  for item in ds.CurrentRequestedProcedureEvidenceSequence[0]
                  .ReferencedSeriesSequence}  # fmt: skip
    assert referenced == {d.SeriesInstanceUID for d in evidence}
    back = read_spect_sr(ds)
    expected = study_to_dict(pair_result)
    for state in ("stress", "rest"):
        for key, value in back[state].items():
            assert value == expected[state][key], (state, key)
        assert set(back[state]) >= {"edv_ml", "esv_ml", "sv_ml", "lvef_pct", "segment_scores"}
    assert back["study"] == {"tid": expected["tid"], "sds": expected["sds"],
                             "ischemic_extent_pct": expected["ischemic_extent_pct"]}
    # the report form offers the numbers as measurement sources (workbench.reports.sources)
    offered = {m.label: m.value for m in measurements_from_sr(ds)}
    assert offered["spect-stress Left Ventricular End Diastolic Volume"] == \
        expected["stress"]["edv_ml"]
    with pytest.raises(ValueError, match="evidence"):
        spect_sr(pair_result, [])


def _bytes(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def _code_values(items: pydicom.Sequence) -> set[tuple[str, str]]:
    """Every (scheme, value) of concept names and coded values in an SR content tree."""
    out: set[tuple[str, str]] = set()
    for item in items:
        for key in ("ConceptNameCodeSequence", "ConceptCodeSequence"):
            for code in item.get(key, []):
                out.add((str(code.CodingSchemeDesignator), str(code.CodeValue)))
        out |= _code_values(item.get("ContentSequence", []))
    return out


def test_sr_states_units_and_segments_are_coded(pair_phantoms: tuple[Phantom, Phantom],
                                                pair_result: StudyAnalysis) -> None:
    sr = spect_sr(pair_result, phantom_datasets(list(pair_phantoms)))
    found = _code_values(sr.ContentSequence)
    for code in (codes.SCT.CardiacStressState, codes.SCT.RestingState, codes.DCM.PatientState,
                 codes.SCT.LeftVentricleMidAnteriorSegment, codes.SCT.ApexOfLeftVentricle,
                 codes.SCT.LeftVentricle, codes.SCT.RadionuclideMyocardialPerfusionStudy):
        assert (code.scheme_designator, code.value) in found, code
    assert {("LN", "18026-5"), ("LN", "18148-7"), ("LN", "10230-1"),
            ("SCT", "428832008")} <= found
    units = set()

    def walk(items: pydicom.Sequence) -> None:
        for item in items:
            for value in item.get("MeasuredValueSequence", []):
                units.add(str(value.MeasurementUnitsCodeSequence[0].CodeValue))
            walk(item.get("ContentSequence", []))

    walk(sr.ContentSequence)
    assert units == {"mL", "%", "g", "{score}", "{ratio}"}


def test_dashboard_applies_valve_plane_and_origin() -> None:
    ph = make_phantom(SMALL)
    dash = SpectDashboard(make_volume(ph.counts, ph.affine), background=False)
    assert dash.data is not None and dash.data.study.stress is not None
    before = dash.data.study.stress
    assert before.curve is not None and dash.valve_shift_mm == 0.0
    dash.param.update(valve_shift_mm=6.0, origin_anterior_mm=2.0)
    dash.reorient()
    after = dash.data.study.stress
    assert after is not None and after.curve is not None and not dash.busy
    assert after.segmentation.valve_shift_mm == 6.0 and dash.valve_shift_mm == 6.0
    assert after.curve.edv_ml < before.curve.edv_ml - 5.0
    assert dash.origin_anterior_mm == 0.0                         # applied, control reset
    assert angle_between(after.long_axis.axis, before.long_axis.axis) < 1e-6
    offset = np.subtract(after.long_axis.origin, before.long_axis.origin)
    assert float(offset @ np.asarray(before.long_axis.frame.anterior)) == pytest.approx(2.0)
    cells = dash._table.object
    assert isinstance(cells, str) and f">{after.curve.edv_ml:.0f}<" in cells
