"""What a digital gated SPECT phantom is made of: its parameters and its truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workbench.spect.aha import SEGMENTS

__all__ = ["Defect", "Dyssynchrony", "PhantomSpec", "PhantomTruth"]

State = Literal["stress", "rest"]


@dataclass(frozen=True)
class Defect:
    """A perfusion defect: reduced tracer uptake over whole AHA segments.

    Attributes
    ----------
    segments
        AHA segments (1-17) whose myocardium takes up less tracer.
    severity
        Fraction of normal uptake lost under stress, 0 (none) to 1 (no uptake).
    reversible
        True: uptake is normal at rest (ischaemia); False: the same loss at rest (scar).
    """

    segments: tuple[int, ...]
    severity: float
    reversible: bool

    def __post_init__(self) -> None:
        if not self.segments or any(s not in SEGMENTS for s in self.segments):
            raise ValueError(f"defect segments must be AHA 1-17, got {self.segments}")
        if not 0.0 <= self.severity <= 1.0:
            raise ValueError(f"defect severity must be 0 to 1, got {self.severity}")

    def loss(self, state: State) -> float:
        """Fraction of uptake lost in `state`."""
        return 0.0 if (state == "rest" and self.reversible) else self.severity


@dataclass(frozen=True)
class Dyssynchrony:
    """A region of the wall that contracts late.

    Attributes
    ----------
    centre_deg
        Polar angle of the middle of the region (0 anterior, 90 septal, 180 inferior,
        270 lateral).
    width_deg
        Angular width; the delay falls off as a cosine from the centre to zero at the edges.
    delay
        Delay at the centre, as a fraction of the R-R interval.
    """

    centre_deg: float
    width_deg: float
    delay: float

    def __post_init__(self) -> None:
        if not 0.0 < self.width_deg <= 360.0:
            raise ValueError(f"width_deg must be in (0, 360], got {self.width_deg}")
        if not 0.0 <= self.delay < 1.0:
            raise ValueError(f"delay must be in [0, 1), got {self.delay}")


@dataclass(frozen=True)
class PhantomSpec:
    """Parameters of a gated myocardial perfusion SPECT phantom (all lengths in mm).

    The LV is a truncated prolate-spheroid shell (see :mod:`workbench.spect.phantom.heart`).

    Attributes
    ----------
    edv_ml, esv_ml
        End-diastolic and end-systolic endocardial volumes (synchronous contraction) at
        the R wave and at end-systole; gates show the middle of their interval, so the
        largest and smallest gate volumes (the truth) lie a little inside them.
    wall_mm
        Wall thickness at the equator at end-diastole; sets the myocardial volume, which
        stays constant over the cycle.
    length_to_diameter
        Endocardial length (valve plane to endocardial apex) over equatorial diameter, at ED.
    base_fraction
        Height of the valve plane above the equator, as a fraction of the endocardial
        semi-long axis.
    apex_ratio
        Apical wall thickness over equatorial wall thickness.
    basal_descent_mm
        Movement of the valve plane towards the apex from ED to ES; None: 15 % of the ED
        endocardial length scaled by EF / 0.6.
    azimuth_deg, elevation_deg
        Long-axis tilt (:func:`workbench.spect.lvframe.axis_from_angles`).
    centre_mm
        LPS offset of the LV centre at ED (halfway between epicardial apex and valve
        plane) from the centre of the field of view.
    n_gates, heart_rate_bpm
        Gating: gate ``g`` shows the heart at phase ``(g + 0.5) / n_gates`` of the R-R
        interval (the middle of the gate; no motion within it).
    matrix, voxel_mm
        Cubic grid of ``matrix`` voxels of ``voxel_mm`` per side, axial orientation.
    fwhm_mm
        Full width at half maximum of the Gaussian blur applied to the voxelised activity.
    counts_per_ml
        Expected counts per millilitre of normal myocardium summed over all gates;
        None: no noise (expected values, rounded).
    blood_pool, background, liver
        Uptake relative to normal myocardium (1.0) of the LV cavity, the body and the liver.
    defects, dyssynchrony
        Perfusion defects and late-contracting regions.
    state
        Which state the images show (defects marked reversible are absent at rest).
    dilation
        Scale factor of all cavity volumes (stress dilation for a TID study; 1 at rest).
    uptake_variability
        Standard deviation of a smooth normal variation of uptake (biology).
    variation_seed
        Fixes that variation (the "patient").
    oversample
        Sub-voxels per voxel side when voxelising the heart.
    seed
        Fixes the Poisson noise.
    """

    edv_ml: float = 120.0
    esv_ml: float = 45.0
    wall_mm: float = 10.0
    length_to_diameter: float = 1.6
    base_fraction: float = 0.2
    apex_ratio: float = 0.8
    basal_descent_mm: float | None = None
    azimuth_deg: float = 45.0
    elevation_deg: float = 25.0
    centre_mm: tuple[float, float, float] = (15.0, -10.0, 0.0)
    n_gates: int = 8
    heart_rate_bpm: float = 60.0
    matrix: int = 64
    voxel_mm: float = 6.4
    fwhm_mm: float = 12.0
    counts_per_ml: float | None = 2000.0
    blood_pool: float = 0.12
    background: float = 0.06
    liver: float = 0.4
    defects: tuple[Defect, ...] = ()
    dyssynchrony: tuple[Dyssynchrony, ...] = ()
    state: State = "rest"
    dilation: float = 1.0
    uptake_variability: float = 0.03
    variation_seed: int = 0
    oversample: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.esv_ml < self.edv_ml:
            raise ValueError(f"need 0 < esv_ml < edv_ml, got {self.esv_ml}, {self.edv_ml}")
        if self.n_gates < 2:
            raise ValueError(f"n_gates must be at least 2, got {self.n_gates}")
        if self.matrix < 16 or self.voxel_mm <= 0 or self.fwhm_mm < 0:
            raise ValueError("matrix must be >= 16, voxel_mm > 0 and fwhm_mm >= 0")
        if self.state not in ("stress", "rest"):
            raise ValueError(f"state must be 'stress' or 'rest', got {self.state!r}")


@dataclass(frozen=True)
class PhantomTruth:
    """What the phantom really contains, to compare an analysis with.

    Attributes
    ----------
    volumes_ml
        Endocardial (cavity) volume of each gate, integrated from the model.
    edv_ml, esv_ml, ef_pct
        Largest and smallest gate volume and the ejection fraction they give.
    myocardial_ml
        Myocardial volume of each gate (constant for a synchronous heart).
    axis
        Unit long axis, base to apex, LPS.
    apex_mm
        LPS position of the epicardial apex (fixed over the cycle).
    base_mm
        LPS centre of the valve plane in each gate.
    uptake
        Mean uptake (normal myocardium 1.0) of each AHA segment 1-17, in this state.
    defect_segments
        Segments with any defect in this state.
    thickening_pct, motion_mm
        Per segment 1-17: wall thickening ED to ES and endocardial excursion.
    phase_deg
        Per segment: first-harmonic phase of wall thickness over the cycle (0-360).
    phase_sd_deg
        Area-weighted standard deviation of the phase over the whole LV.
    """

    volumes_ml: tuple[float, ...]
    edv_ml: float
    esv_ml: float
    ef_pct: float
    myocardial_ml: tuple[float, ...]
    axis: tuple[float, float, float]
    apex_mm: tuple[float, float, float]
    base_mm: tuple[tuple[float, float, float], ...]
    uptake: tuple[float, ...]
    defect_segments: frozenset[int]
    thickening_pct: tuple[float, ...]
    motion_mm: tuple[float, ...]
    phase_deg: tuple[float, ...]
    phase_sd_deg: float
