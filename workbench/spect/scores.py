"""Perfusion scores against normal limits: 17-segment 0-4 scores, SSS, SRS, SDS, extent, TID.

Each segment's mean normalised uptake (:meth:`PolarMap.segment_means`) is compared with
the normal mean and SD of that segment: ``z = (mean - value) / max(sd, min_sd)``; the
score is 0 below ``thresholds_sd[0]`` SDs, 1, 2, 3 up to the following thresholds, and 4
beyond the last (defaults 2, 3, 4, 5.5: 4 is an uptake about half of normal).
SSS and SRS sum the stress and rest scores; SDS is ``SSS - SRS``. The extent is the
percentage of the polar map (weighted as the LV area) whose cells lie more than
``extent_sd`` SDs below their segment's normal mean; the ischaemic extent counts cells
abnormal at stress and normal at rest. TID (:func:`workbench.spect.analysis.tid_ratio`)
is the ratio of the stress to the rest cavity volume averaged over the cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.spect.polar import PolarMap

__all__ = ["NormalLimits", "PerfusionScores", "limits_from_maps", "score_map"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NormalLimits:
    """Normal mean and SD of normalised uptake per AHA segment 1-17, stress and rest.

    Attributes
    ----------
    stress_mean, stress_sd, rest_mean, rest_sd
        17 values each.
    source
        Where the limits come from (e.g. ``"workbench phantoms v1, n=40"``).
    thresholds_sd
        SD thresholds of scores 1, 2, 3 and 4.
    min_sd
        Floor of the SD used in ``z`` (avoids over-scoring where normals agree closely).
    extent_sd
        SDs below normal that make a polar-map cell abnormal.
    """

    stress_mean: tuple[float, ...]
    stress_sd: tuple[float, ...]
    rest_mean: tuple[float, ...]
    rest_sd: tuple[float, ...]
    source: str
    thresholds_sd: tuple[float, float, float, float] = (2.0, 3.0, 4.0, 5.5)
    min_sd: float = 0.04
    extent_sd: float = 2.5

    def __post_init__(self) -> None:
        for name in ("stress_mean", "stress_sd", "rest_mean", "rest_sd"):
            if len(getattr(self, name)) != 17:
                raise ValueError(f"NormalLimits.{name} needs 17 values (AHA segments)")

    def limits(self, state: str) -> tuple[F64, F64]:
        """``(mean, effective sd)`` arrays of 17 values for ``"stress"`` or ``"rest"``."""
        if state not in ("stress", "rest"):
            raise ValueError(f"state must be 'stress' or 'rest', got {state!r}")
        mean = np.asarray(self.stress_mean if state == "stress" else self.rest_mean)
        sd = np.asarray(self.stress_sd if state == "stress" else self.rest_sd)
        return mean, np.maximum(sd, self.min_sd)


@dataclass(frozen=True)
class PerfusionScores:
    """Scores of one perfusion map.

    Attributes
    ----------
    uptake
        Mean normalised uptake per segment 1-17.
    z
        SDs below the normal mean per segment.
    scores
        0-4 per segment.
    summed_score
        Sum of the 17 scores (SSS for stress, SRS for rest).
    extent_pct
        Abnormal share of the LV (module docstring).
    abnormal
        ``(rings, sectors)`` boolean map of abnormal cells.
    """

    uptake: tuple[float, ...]
    z: tuple[float, ...]
    scores: tuple[int, ...]
    summed_score: int
    extent_pct: float
    abnormal: npt.NDArray[np.bool_]


def _map_weights(pmap: PolarMap) -> F64:
    return np.asarray(np.broadcast_to((1.0 - pmap.h)[:, None], pmap.values.shape))


def score_map(pmap: PolarMap, limits: NormalLimits, state: str) -> PerfusionScores:
    """Score a perfusion polar map against `limits` (see module docstring)."""
    mean, sd = limits.limits(state)
    uptake = np.asarray(pmap.segment_means())
    z = (mean - uptake) / sd
    scores = np.searchsorted(np.asarray(limits.thresholds_sd), z, side="right")
    cell_seg = pmap.segments.astype(int) - 1
    abnormal = pmap.values < (mean[cell_seg] - limits.extent_sd * sd[cell_seg])
    w = _map_weights(pmap)
    extent = 100.0 * float(np.sum(w * abnormal) / np.sum(w))
    return PerfusionScores(
        uptake=tuple(float(v) for v in uptake), z=tuple(float(v) for v in z),
        scores=tuple(int(s) for s in scores), summed_score=int(np.sum(scores)),
        extent_pct=extent, abnormal=abnormal,
    )  # fmt: skip


def ischemic_extent(stress: PerfusionScores, rest: PerfusionScores, pmap: PolarMap) -> float:
    """Percentage of the LV abnormal at stress and normal at rest."""
    w = _map_weights(pmap)
    return 100.0 * float(np.sum(w * (stress.abnormal & ~rest.abnormal)) / np.sum(w))


def limits_from_maps(stress: list[PolarMap], rest: list[PolarMap], source: str) -> NormalLimits:
    """Build :class:`NormalLimits` from perfusion maps of normal studies (mean and sample
    SD of each segment's mean uptake)."""
    if len(stress) < 2 or len(rest) < 2:
        raise ValueError("normal limits need at least two stress and two rest maps")

    def stats(maps: list[PolarMap]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        table = np.array([m.segment_means() for m in maps])
        return (tuple(float(v) for v in table.mean(axis=0)),
                tuple(float(v) for v in table.std(axis=0, ddof=1)))  # fmt: skip

    s_mean, s_sd = stats(stress)
    r_mean, r_sd = stats(rest)
    return NormalLimits(s_mean, s_sd, r_mean, r_sd, source)

