"""Indices on known inputs: volume curve, phase statistics, scores, wall model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from workbench.spect.function import volume_curve
from workbench.spect.normals import default_normal_limits
from workbench.spect.phantom import contraction
from workbench.spect.phase import first_harmonic, phase_analysis
from workbench.spect.polar import PolarMap
from workbench.spect.scores import NormalLimits, limits_from_maps, score_map
from workbench.spect.wallfit import _TAU, annulus_profile, fit_wall_model, recovery


def test_volume_curve_indices() -> None:
    phase = (np.arange(16) + 0.5) / 16
    volumes = 120 - 75 * contraction(phase)
    curve = volume_curve(list(volumes), rr_interval_ms=1000.0)
    assert (curve.ed_gate, curve.es_gate) == (0, int(np.argmin(volumes)))
    assert curve.ef_pct == pytest.approx(100 * (120 - volumes.min()) / 120)
    assert curve.sv_ml == pytest.approx(120 - volumes.min())
    assert curve.per_edv_s > 0 and curve.pfr_edv_s > 0
    assert 50 < curve.ttpf_ms < 400
    assert curve.time_ms[0] == pytest.approx(1000 / 32)
    per_rr = volume_curve(list(volumes))
    assert per_rr.pfr_edv_s == pytest.approx(curve.pfr_edv_s, rel=1e-6)  # 1 s R-R
    with pytest.raises(ValueError):
        volume_curve([100.0])


def test_phase_statistics() -> None:
    middle = (np.arange(8) + 0.5) / 8
    phase, amplitude = first_harmonic(np.cos(2 * np.pi * (middle - 0.25)))
    assert float(phase) == pytest.approx(90.0) and float(amplitude) == pytest.approx(1.0)
    same = phase_analysis(np.full(100, 120.0), np.ones(100))
    assert same.sd_deg == pytest.approx(0.0) and same.bandwidth_deg == 1.0
    assert same.peak_deg == pytest.approx(120.0) and same.entropy_pct == pytest.approx(0.0)
    spread = phase_analysis(np.array([350.0, 10.0]), np.array([1.0, 1.0]))
    assert spread.peak_deg == pytest.approx(0.0, abs=1e-9) or spread.peak_deg == pytest.approx(360)
    assert spread.sd_deg == pytest.approx(10.0)  # across 0 degrees, not 170
    uniform = phase_analysis(np.arange(360) + 0.5, np.ones(360))
    assert uniform.entropy_pct == pytest.approx(100.0) and uniform.bandwidth_deg == 342.0
    assert sum(uniform.histogram) == pytest.approx(1.0)


def _map(value: float, low_segments: dict[int, float] | None = None) -> PolarMap:
    pmap = PolarMap(np.full((36, 48), value), "perfusion", "fraction of maximum")
    values = pmap.values.copy()
    for segment, v in (low_segments or {}).items():
        values[pmap.segments == segment] = v
    return PolarMap(values, "perfusion", "fraction of maximum")


def test_scores_against_limits() -> None:
    limits = NormalLimits((0.9,) * 17, (0.05,) * 17, (0.9,) * 17, (0.05,) * 17, "test")
    scored = score_map(_map(0.9, {4: 0.5, 5: 0.78, 6: 0.85}), limits, "stress")
    assert scored.scores[3] == 4  # z = 8
    assert scored.scores[4] == 1  # z = 2.4
    assert scored.scores[5] == 0  # z = 1
    assert scored.summed_score == 5
    assert 0 < scored.extent_pct < 20
    normal = score_map(_map(0.9), limits, "rest")
    assert normal.summed_score == 0 and normal.extent_pct == 0.0
    with pytest.raises(ValueError):
        limits.limits("exercise")
    with pytest.raises(ValueError):
        NormalLimits((0.9,) * 16, (0.05,) * 17, (0.9,) * 17, (0.05,) * 17, "short")


def test_limits_from_maps_and_default_limits() -> None:
    maps = [_map(v) for v in (0.85, 0.9, 0.95)]
    limits = limits_from_maps(maps, maps, "three maps")
    assert limits.stress_mean == pytest.approx((0.9,) * 17)
    assert limits.stress_sd == pytest.approx((0.05,) * 17)
    default = default_normal_limits()
    assert len(default.stress_mean) == 17 and all(0.5 < m < 1.0 for m in default.stress_mean)
    assert "phantoms" in default.source


def test_wall_model_recovers_known_annulus() -> None:
    sigma, conc, thickness = 6.0, 100.0, 9.0
    radii = [24.0, 21.0, 18.0]
    ratios = [1.0, 1.25, 1.55]
    profiles = []
    for radius, ratio in zip(radii, ratios, strict=True):
        peak_at = radius - 1.5
        profile = annulus_profile(peak_at + _TAU, radius, thickness * ratio, sigma, conc, 12, 6)
        profile[peak_at + _TAU < 1] = np.nan
        profiles.append(profile)
    wall = fit_wall_model(profiles, ratios, [r - 1.5 for r in radii], thickness_prior=None)
    assert wall.fitted
    assert wall.sigma_mm == pytest.approx(sigma, rel=1e-3)
    assert wall.thickness_ed_mm == pytest.approx(thickness, rel=1e-3)
    unfit = fit_wall_model(profiles[:1], [1.0], radii[:1])  # no contraction, no known blur
    assert not unfit.fitted
    thick = np.array([5.0, 10.0, 40.0])
    flat = recovery(thick, 6.0, 1000.0)  # a huge annulus is a flat slab
    assert flat == pytest.approx(erf(thick / (2 * np.sqrt(2) * 6.0)), abs=2e-3)
    assert recovery(np.array([10.0]), 6.0, 15.0)[0] > flat[1] + 0.01  # a ring gathers more
