"""The phantom's ground truth: volumes, regional uptake, thickening, motion and phase.

Regional values are taken on the mid-wall surface (the spheroid halfway between
endocardium and epicardium). A point of that surface is named by ``(h, theta)``: ``h``
is its long-axis position, 0 at the valve plane and 1 at the mid-wall apex, so that it
follows the wall as the base descends. Wall thickness there is measured along the
mid-wall surface normal, between the endocardium and the epicardium.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from workbench.spect.aha import SEGMENTS, segment_of
from workbench.spect.lvframe import LvFrame
from workbench.spect.phantom.heart import HeartModel, Meridian
from workbench.spect.phantom.spec import PhantomSpec, PhantomTruth

__all__ = ["compute_truth", "uptake_field", "wall_geometry"]

F64 = npt.NDArray[np.float64]


def uptake_field(spec: PhantomSpec, h: npt.ArrayLike, theta_deg: npt.ArrayLike) -> F64:
    """Return tracer uptake (normal myocardium 1.0) at mid-wall coordinates ``(h, theta)``.

    The seeded normal variation is a sum of low-order harmonics in ``theta`` and a linear
    trend in ``h`` with standard deviation ``spec.uptake_variability``; each defect
    multiplies its segments by ``1 - loss``.
    """
    h_arr, theta = np.broadcast_arrays(np.asarray(h, float), np.asarray(theta_deg, float))
    rng = np.random.default_rng([spec.variation_seed % 2**32, 7])
    coef = rng.normal(0.0, 1.0, size=5)
    t = np.radians(theta)
    field = (coef[0] * np.cos(t) + coef[1] * np.sin(t) + coef[2] * np.cos(2 * t)
             + coef[3] * np.sin(2 * t)) / 2 + coef[4] * (h_arr - 0.5) * 1.7  # fmt: skip
    out = 1.0 + spec.uptake_variability * field / np.sqrt(np.mean(coef**2))
    segments = segment_of(h_arr, theta)
    for defect in spec.defects:
        loss = defect.loss(spec.state)
        if loss > 0:
            out = np.where(np.isin(segments, defect.segments), out * (1.0 - loss), out)
    return np.asarray(out, np.float64)


def wall_geometry(m: Meridian, h: F64) -> tuple[F64, F64, F64, F64]:
    """Mid-wall point and wall thickness at long-axis positions `h` (per angle of `m`).

    Parameters
    ----------
    m
        The shape, with ``Rn``/``Re`` broadcastable against `h`.
    h
        Normalised long-axis position on the mid-wall surface (0 valve plane, 1 apex).

    Returns
    -------
    tuple
        ``(z_endo, r_endo, thickness, z_mid)``: the endocardial point reached along the
        mid-wall normal (axial mm from the epicardial apex, radius mm), the wall
        thickness along that normal (mm), and the mid-wall point's axial position.
    """
    lm, rm = (m.Ln + m.Le) / 2, (m.Rn + m.Re) / 2
    z_apex = m.Le - lm
    z = z_apex + (1.0 - h) * (m.zb - z_apex)
    w = z - m.Le
    r = rm * np.sqrt(np.clip(1.0 - (w / lm) ** 2, 0.0, None))
    nw, nr = w / lm**2, r / rm**2
    norm = np.hypot(nw, nr)
    nw, nr = nw / norm, nr / norm

    def hit(a: float, b: F64) -> F64:
        """Largest root s of |p + s n| on the spheroid (a, b): the epicardium outwards
        from inside, the nearer endocardial crossing inwards from outside."""
        qa = nw**2 / a**2 + nr**2 / b**2
        qb = 2 * (w * nw / a**2 + r * nr / b**2)
        qc = w**2 / a**2 + r**2 / b**2 - 1.0
        root = np.sqrt(np.clip(qb**2 - 4 * qa * qc, 0.0, None))
        return np.asarray((-qb + root) / (2 * qa))

    s_epi, s_endo = hit(m.Le, m.Re), hit(m.Ln, m.Rn)
    return z + s_endo * nw, r + s_endo * nr, s_epi - s_endo, z


def _first_harmonic_phase(curves: F64) -> F64:
    """Phase (degrees, 0-360) of the peak of the first harmonic along the last axis;
    sample ``g`` of ``n`` lies at ``(g + 0.5) / n`` of the cycle."""
    n = curves.shape[-1]
    f1 = (curves * np.exp(-2j * np.pi * (np.arange(n) + 0.5) / n)).sum(axis=-1)
    return np.asarray((-np.degrees(np.angle(f1))) % 360.0)


def _circular_sd(phase_deg: F64, weights: F64) -> float:
    """Weighted SD of phases about their circular mean, in degrees."""
    t = np.radians(phase_deg)
    mean = np.angle(np.sum(weights * np.exp(1j * t)))
    offset = (np.degrees(t - mean) + 180.0) % 360.0 - 180.0
    return float(np.sqrt(np.sum(weights * offset**2) / np.sum(weights)))


def compute_truth(model: HeartModel, frame: LvFrame) -> PhantomTruth:
    """Return the :class:`PhantomTruth` of `model` placed in `frame` (origin: epicardial apex).

    Volumes integrate the model over 720 angles; regional values use a 60 x 72 grid of
    ``(h, theta)`` on the mid-wall surface, area-weighted for means.
    """
    spec = model.spec
    phases = model.gate_phases()
    fine = np.arange(720) * 0.5
    volumes: list[float] = []
    myocardium: list[float] = []
    bases: list[tuple[float, float, float]] = []
    for phase in phases:
        m = model.meridian(float(phase), fine)
        volumes.append(m.endo_volume_ml())
        myocardium.append(m.myocardial_volume_ml())
        bx, by, bz = (float(v) for v in frame.to_patient([0.0, 0.0, -m.zb]))
        bases.append((bx, by, bz))
    h = (np.arange(60) + 0.5) / 60
    theta = np.arange(72) * 5.0 + 2.5
    hh, tt = np.meshgrid(h, theta, indexing="ij")
    thickness, endo_points, area = [], [], None
    for phase in phases:
        m = model.meridian(float(phase), theta)
        z_endo, r_endo, thick, z_mid = wall_geometry(m, hh)
        thickness.append(thick)
        local = np.stack([r_endo * np.cos(np.radians(tt)), r_endo * np.sin(np.radians(tt)),
                          -z_endo], axis=-1)  # fmt: skip
        endo_points.append(local)
        if area is None:
            _, r_mid, _, _ = wall_geometry(
                Meridian(m.Ln, m.Le, (m.Rn + m.Re) / 2, (m.Rn + m.Re) / 2, m.zb), hh)
            area = np.maximum(r_mid, 1e-3)
    assert area is not None
    curves = np.stack(thickness, axis=-1)
    vol = np.asarray(volumes)
    ed, es = int(np.argmax(vol)), int(np.argmin(vol))
    thickening = 100 * (curves[..., es] - curves[..., ed]) / curves[..., ed]
    motion = np.linalg.norm(endo_points[ed] - endo_points[es], axis=-1)
    phase_map = _first_harmonic_phase(curves)
    segments = segment_of(hh, tt)
    uptake = uptake_field(spec, hh, tt)

    def per_segment(values: F64) -> tuple[float, ...]:
        return tuple(float(np.average(values[segments == s], weights=area[segments == s]))
                     for s in SEGMENTS)  # fmt: skip

    seg_phase = tuple(
        float(_first_harmonic_phase(np.average(curves[segments == s], axis=0,
                                               weights=area[segments == s])))
        for s in SEGMENTS
    )  # fmt: skip
    defect_segments = frozenset(
        s for d in spec.defects if d.loss(spec.state) > 0 for s in d.segments)
    return PhantomTruth(
        volumes_ml=tuple(float(v) for v in vol),
        edv_ml=float(vol[ed]),
        esv_ml=float(vol[es]),
        ef_pct=float(100 * (vol[ed] - vol[es]) / vol[ed]),
        myocardial_ml=tuple(float(v) for v in myocardium),
        axis=frame.axis,
        apex_mm=frame.origin,
        base_mm=tuple(bases),
        uptake=per_segment(uptake),
        defect_segments=defect_segments,
        thickening_pct=per_segment(thickening),
        motion_mm=per_segment(motion),
        phase_deg=seg_phase,
        phase_sd_deg=_circular_sd(phase_map.ravel(), area.ravel()),
    )
