"""The project's own normal limits, built from normal phantoms, replaceable by a site's.

:func:`default_normal_limits` returns limits measured once with
:func:`build_normal_limits` on normal phantoms (no defect) that vary in size, wall
thickness, tilt, resolution (10-15 mm), count level (1200-3500 counts/mL), gate count and
normal uptake variation (3-5 %), analysed exactly as patients are. The numbers are kept
in :mod:`workbench.spect._normal_table` so that scoring needs no computation; rebuild
them with ``python -c "from workbench.spect.normals import write_default_table as w; w()"``
after any change to the analysis (a few minutes).

A site replaces them with :class:`~workbench.spect.scores.NormalLimits` of its own, e.g.
from :func:`~workbench.spect.scores.limits_from_maps` over its normal patients' maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.spect import _normal_table as table
from workbench.spect.phantom.spec import PhantomSpec
from workbench.spect.scores import NormalLimits, limits_from_maps

__all__ = [
    "build_normal_limits", "default_normal_limits", "normal_phantom_specs", "write_default_table",
]  # fmt: skip


def default_normal_limits() -> NormalLimits:
    """Return the packaged normal limits (see module docstring)."""
    return NormalLimits(
        stress_mean=table.STRESS_MEAN, stress_sd=table.STRESS_SD,
        rest_mean=table.REST_MEAN, rest_sd=table.REST_SD, source=table.SOURCE,
    )  # fmt: skip


def normal_phantom_specs(n: int, seed: int) -> list[PhantomSpec]:
    """Return `n` seeded random normal :class:`~workbench.spect.phantom.PhantomSpec`."""
    rng = np.random.default_rng([seed, 17])
    specs: list[PhantomSpec] = []
    for i in range(n):
        edv = float(rng.uniform(70, 160))
        ef = float(rng.uniform(0.55, 0.72))
        specs.append(PhantomSpec(
            edv_ml=edv, esv_ml=edv * (1 - ef), wall_mm=float(rng.uniform(8.5, 11.5)),
            azimuth_deg=float(rng.uniform(30, 60)), elevation_deg=float(rng.uniform(15, 40)),
            fwhm_mm=float(rng.uniform(10, 15)), counts_per_ml=float(rng.uniform(1200, 3500)),
            n_gates=8 if i % 2 else 16, uptake_variability=float(rng.uniform(0.03, 0.05)),
            variation_seed=int(rng.integers(1 << 30)), seed=int(rng.integers(1 << 30)),
            state="stress" if i % 3 else "rest",
        ))  # fmt: skip
    return specs


def build_normal_limits(n: int = 40, seed: int = 20260101) -> NormalLimits:
    """Analyse `n` normal phantoms and return their limits (takes a few seconds each).

    The same maps serve stress and rest: the phantoms' normal uptake does not depend on
    the state.
    """
    from workbench.spect.analysis import analyze_gated  # analysis imports this module
    from workbench.spect.phantom import make_phantom
    from workbench.spect.volume import make_volume

    maps = []
    for spec in normal_phantom_specs(n, seed):
        ph = make_phantom(spec)
        maps.append(analyze_gated(make_volume(ph.counts, ph.affine)).perfusion)
    return limits_from_maps(maps, maps, f"workbench normal phantoms, n={n}, seed={seed}")


def write_default_table(n: int = 40, seed: int = 20260101) -> Path:
    """Rebuild the packaged limits (:func:`build_normal_limits`) and write them into
    :mod:`workbench.spect._normal_table`; returns the file written."""
    limits = build_normal_limits(n, seed)

    def fmt(values: tuple[float, ...]) -> str:
        rows = [", ".join(f"{v:.4f}" for v in values[i:i + 8]) for i in range(0, len(values), 8)]
        return "(\n" + "".join(f"    {row},\n" for row in rows) + ")"

    text = (
        '"""Normal limits of :mod:`workbench.spect.normals` (generated, do not edit)."""\n\n'
        f"SOURCE = {limits.source!r}\n"
        f"STRESS_MEAN = {fmt(limits.stress_mean)}\n"
        f"STRESS_SD = {fmt(limits.stress_sd)}\n"
        f"REST_MEAN = {fmt(limits.rest_mean)}\n"
        f"REST_SD = {fmt(limits.rest_sd)}\n"
    )
    path = Path(__file__).with_name("_normal_table.py")
    path.write_text(text, encoding="utf-8")
    return path
