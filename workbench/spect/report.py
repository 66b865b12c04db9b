"""Results as JSON-ready dictionaries and pandas tables (for the CLI, notebooks, viewer).

:func:`study_to_dict` holds everything ``workbench spect analyze --json`` prints: per
gated set EDV, ESV, SV, LVEF, the volume curve, filling indices, mass, regional motion and
thickening and phase indices; per study the 17 segment scores, SSS, SRS, SDS, extents and
TID. Numbers are plain floats and ints (rounded to 0.01); polar maps are left out (see
:func:`polar_maps` for arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.spect.aha import SEGMENT_NAMES, SEGMENTS, territory_of
from workbench.spect.analysis import LvAnalysis, StudyAnalysis
from workbench.spect.polar import PolarMap
from workbench.spect.scores import PerfusionScores

__all__ = [
    "SET_ROWS", "STUDY_ROWS", "polar_maps", "segment_table", "set_to_dict", "study_summary",
    "study_to_dict", "summary_table", "volume_table",
]  # fmt: skip

SET_ROWS: tuple[tuple[str, str, str], ...] = (
    ("EDV (mL)", "edv_ml", ".0f"), ("ESV (mL)", "esv_ml", ".0f"), ("SV (mL)", "sv_ml", ".0f"),
    ("LVEF (%)", "lvef_pct", ".0f"), ("PFR", "pfr", ""), ("TTPF", "ttpf", ""),
    ("LV mass (g)", "lv_mass_g", ".0f"),
    ("Summed score", "summed_score", "d"), ("Extent (%)", "extent_pct", ".0f"),
    ("Phase peak (deg)", "phase_peak_deg", ".0f"), ("Phase SD (deg)", "phase_sd_deg", ".1f"),
    ("Bandwidth (deg)", "phase_bandwidth_deg", ".0f"),
    ("Entropy (%)", "phase_entropy_pct", ".0f"),
)  # fmt: skip
"""Rows of :func:`summary_table`: label, quantity (named as in :func:`study_to_dict`, or
``pfr``/``ttpf``: text with the unit), format."""

STUDY_ROWS: tuple[tuple[str, str, str], ...] = (
    ("SSS", "sss", "d"), ("SRS", "srs", "d"), ("SDS", "sds", "d"), ("TID", "tid", ".2f"),
    ("Ischaemic extent (%)", "ischemic_extent_pct", ".0f"),
)  # fmt: skip
"""Rows of :func:`study_summary`, as :data:`SET_ROWS`."""


def _r(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 2)


def _seq(values: tuple[float, ...] | None) -> list[float | None] | None:
    return None if values is None else [_r(v) for v in values]


def set_to_dict(a: LvAnalysis) -> dict[str, Any]:
    """One analysed set as a JSON-ready dictionary."""
    out: dict[str, Any] = {
        "gated": a.curve is not None,
        "myocardial_volume_ml": _r(a.myocardial_ml), "lv_mass_g": _r(a.mass_g),
        "ungated_volume_ml": _r(a.ungated_volume_ml),
        "resolution_fwhm_mm": _r(a.resolution_fwhm_mm), "wall_ed_mm": _r(a.wall_ed_mm),
        "long_axis": {"origin_mm": _seq(a.long_axis.origin), "axis": _seq(a.long_axis.axis)},
    }  # fmt: skip
    c = a.curve
    if c is not None:
        out.update({
            "edv_ml": _r(c.edv_ml), "esv_ml": _r(c.esv_ml), "sv_ml": _r(c.sv_ml),
            "lvef_pct": _r(c.ef_pct), "ed_gate": c.ed_gate, "es_gate": c.es_gate,
            "volume_curve": {"time_ms": _seq(c.time_ms), "volume_ml": _seq(c.volumes_ml),
                             "time_unit": "ms" if c.rr_interval_ms else "fraction of R-R"},
            "per_edv_per_s": _r(c.per_edv_s), "pfr_edv_per_s": _r(c.pfr_edv_s),
            "ttpf_ms": _r(c.ttpf_ms), "rr_interval_ms": _r(c.rr_interval_ms),
            "wall_motion_mm": _seq(a.motion_mm), "wall_thickening_pct": _seq(a.thickening_pct),
        })  # fmt: skip
    if a.phase is not None:
        out["phase"] = {"peak_deg": _r(a.phase.peak_deg), "sd_deg": _r(a.phase.sd_deg),
                        "bandwidth_deg": _r(a.phase.bandwidth_deg),
                        "entropy_pct": _r(a.phase.entropy_pct)}  # fmt: skip
    return out


def study_to_dict(study: StudyAnalysis) -> dict[str, Any]:
    """A whole study as a JSON-ready dictionary (see module docstring)."""
    out: dict[str, Any] = {"normal_limits": study.normals_source}
    for name, a, scores in (("stress", study.stress, study.stress_scores),
                            ("rest", study.rest, study.rest_scores)):  # fmt: skip
        if a is None or scores is None:
            continue
        entry = set_to_dict(a)
        entry["segment_uptake"] = _seq(scores.uptake)
        entry["segment_scores"] = list(scores.scores)
        entry["summed_score"] = scores.summed_score
        entry["extent_pct"] = _r(scores.extent_pct)
        out[name] = entry
    out.update({"sss": study.sss, "srs": study.srs, "sds": study.sds,
                "difference_scores": None if study.difference_scores is None
                else list(study.difference_scores),
                "ischemic_extent_pct": _r(study.ischemic_extent_pct),
                "tid": None if study.tid is None else round(study.tid, 3)})  # fmt: skip
    return out


def segment_table(study: StudyAnalysis) -> pd.DataFrame:
    """One row per AHA segment: name, territory, uptake and scores, motion, thickening."""
    table = pd.DataFrame({
        "segment": list(SEGMENTS), "name": [SEGMENT_NAMES[s] for s in SEGMENTS],
        "territory": [territory_of(s) for s in SEGMENTS],
    })  # fmt: skip
    for name, a, scores in (("stress", study.stress, study.stress_scores),
                            ("rest", study.rest, study.rest_scores)):  # fmt: skip
        if a is None or scores is None:
            continue
        table[f"{name}_uptake"] = scores.uptake
        table[f"{name}_score"] = scores.scores
        if a.motion_mm is not None and a.thickening_pct is not None:
            table[f"{name}_motion_mm"] = a.motion_mm
            table[f"{name}_thickening_pct"] = a.thickening_pct
    if study.difference_scores is not None:
        table["difference_score"] = study.difference_scores
    return table.set_index("segment")


def volume_table(a: LvAnalysis) -> pd.DataFrame:
    """The volume curve: one row per gate (time in ms or fraction of R-R, volume in mL)."""
    if a.curve is None:
        raise ValueError("an ungated set has no volume curve")
    return pd.DataFrame({"gate": range(len(a.curve.volumes_ml)), "time": a.curve.time_ms,
                         "volume_ml": a.curve.volumes_ml}).set_index("gate")  # fmt: skip


def polar_maps(a: LvAnalysis) -> dict[str, PolarMap]:
    """The set's polar maps by name (perfusion always; motion, thickening, phase if gated)."""
    maps = {"perfusion": a.perfusion, "motion": a.motion_map, "thickening": a.thickening_map,
            "phase": a.phase_map}  # fmt: skip
    return {k: v for k, v in maps.items() if v is not None}


def _set_values(a: LvAnalysis | None, scores: PerfusionScores | None) -> dict[str, Any]:
    """The unrounded values behind :data:`SET_ROWS` of one set."""
    if a is None or scores is None:
        return {}
    c, p = a.curve, a.phase
    timed = c is not None and bool(c.rr_interval_ms)  # else rates per R-R, times in R-R
    return {
        "edv_ml": c and c.edv_ml, "esv_ml": c and c.esv_ml, "sv_ml": c and c.sv_ml,
        "lvef_pct": c and c.ef_pct,
        "pfr": c and (f"{c.pfr_edv_s:.2f} EDV/s" if timed else f"{c.pfr_edv_s:.2f} EDV/R-R"),
        "ttpf": c and (f"{c.ttpf_ms:.0f} ms" if timed else f"{c.ttpf_ms:.2f} R-R"),
        "lv_mass_g": a.mass_g,
        "summed_score": scores.summed_score, "extent_pct": scores.extent_pct,
        "phase_peak_deg": p and p.peak_deg, "phase_sd_deg": p and p.sd_deg,
        "phase_bandwidth_deg": p and p.bandwidth_deg, "phase_entropy_pct": p and p.entropy_pct,
    }  # fmt: skip


def _text(value: Any, spec: str) -> str:
    if isinstance(value, str):
        return value
    ok = value is not None and (not isinstance(value, float) or np.isfinite(value))
    return format(value, spec) if ok else ""


def summary_table(study: StudyAnalysis) -> pd.DataFrame:
    """The numbers a reader looks at first, as text: one row per :data:`SET_ROWS` label,
    columns ``stress`` and ``rest`` (``""`` where a set or value is missing).

    Values are formatted from the analysis itself (not from :func:`study_to_dict`'s
    rounded values, which would round twice). PFR and TTPF carry their unit in the text:
    EDV/s and ms with an R-R interval, else per R-R interval and fractions of it.
    """
    sets = {"stress": _set_values(study.stress, study.stress_scores),
            "rest": _set_values(study.rest, study.rest_scores)}  # fmt: skip
    columns = {name: [_text(values.get(key), spec) for _label, key, spec in SET_ROWS]
               for name, values in sets.items()}  # fmt: skip
    return pd.DataFrame(columns, index=pd.Index([label for label, _k, _s in SET_ROWS],
                                                name="quantity"))  # fmt: skip


def study_summary(study: StudyAnalysis) -> dict[str, str]:
    """The study-wide numbers (:data:`STUDY_ROWS`) as text, ``""`` where not computed."""
    return {label: _text(getattr(study, key), spec) for label, key, spec in STUDY_ROWS}
