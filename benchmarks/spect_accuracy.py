"""Gated SPECT accuracy against the digital phantom's truth (issue 9).

Runs :mod:`workbench.spect` over the phantom cases of the issue - normal (EDV 120 / ESV
45 mL), small heart (55 / 15), dilated (250 / 175), dyssynchronous, and a stress/rest pair
with TID 1.25, a reversible LAD defect, a fixed RCA defect and a faint reversible LCx
defect - at several resolutions (FWHM) and noise seeds, and prints per case and FWHM: EF
bias and spread, EDV/ESV relative errors, long-axis error, defect detection sensitivity
and specificity, TID error, phase SD (measured and true) and runtime; then each goal of
the issue with the share of runs that meet it. Goals not met do not fail the run.

Usage::

    .venv/bin/python benchmarks/spect_accuracy.py            # 3 FWHM x 10 seeds, ~10 min
    .venv/bin/python benchmarks/spect_accuracy.py --quick    # 12 mm x 2 seeds, ~1 min
    .venv/bin/python benchmarks/spect_accuracy.py --cases normal,pair --seeds 5 --json out.json
    .venv/bin/python benchmarks/spect_accuracy.py --gates 16 --fwhm 12 --seeds 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.spect.analysis import LvAnalysis, analyze_gated, analyze_study  # noqa: E402
from workbench.spect.lvframe import angle_between  # noqa: E402
from workbench.spect.phantom import (  # noqa: E402
    Defect,
    Dyssynchrony,
    Phantom,
    PhantomSpec,
    realisations,
    stress_rest_specs,
)
from workbench.spect.volume import make_volume  # noqa: E402

LAD = Defect((7, 8, 13, 14, 17), 0.45, reversible=True)
RCA = Defect((4, 10, 15), 0.40, reversible=False)
LCX = Defect((5, 11), 0.20, reversible=True)
CASES: dict[str, PhantomSpec] = {
    "normal": PhantomSpec(edv_ml=120, esv_ml=45),
    "small": PhantomSpec(edv_ml=55, esv_ml=15, wall_mm=9.0, azimuth_deg=40,
                         elevation_deg=30),  # fmt: skip
    "dilated": PhantomSpec(edv_ml=250, esv_ml=175, azimuth_deg=50, elevation_deg=20),
    "dyssynchronous": PhantomSpec(edv_ml=160, esv_ml=95,
                                  dyssynchrony=(Dyssynchrony(270.0, 180.0, 0.2),)),  # fmt: skip
    "pair": PhantomSpec(edv_ml=120, esv_ml=45, defects=(LAD, RCA, LCX), variation_seed=5),
}
SMALL = {"small"}


@dataclass
class Run:
    """One analysed realisation (a stress/rest pair counts as one run per set)."""

    edv_err: float
    esv_err: float
    ef_err: float
    axis_err: float
    phase_sd: float
    phase_sd_true: float
    seconds: float
    tid_err: float | None = None
    detection: dict[str, int] = field(default_factory=dict)


def _volume(ph: Phantom) -> xr.DataArray:
    return make_volume(ph.counts, ph.affine, attrs={"rr_interval_ms": 1000.0})


def _set_run(result: LvAnalysis, ph: Phantom, seconds: float) -> Run:
    assert result.curve is not None
    assert result.phase is not None
    truth, curve = ph.truth, result.curve
    return Run(
        edv_err=100 * (curve.edv_ml / truth.edv_ml - 1),
        esv_err=100 * (curve.esv_ml / truth.esv_ml - 1),
        ef_err=curve.ef_pct - truth.ef_pct,
        axis_err=angle_between(result.long_axis.axis, truth.axis),
        phase_sd=result.phase.sd_deg, phase_sd_true=truth.phase_sd_deg, seconds=seconds,
    )  # fmt: skip


def _detection(scores: tuple[int, ...], truth: frozenset[int]) -> dict[str, int]:
    found = {s for s, v in enumerate(scores, start=1) if v >= 1}
    return {"tp": len(found & truth), "fn": len(truth - found),
            "fp": len(found - truth), "tn": 17 - len(found | truth)}  # fmt: skip


def run_case(name: str, fwhms: list[float], seeds: list[int],
             n_gates: int = 8) -> dict[float, list[Run]]:  # fmt: skip
    spec = replace(CASES[name], n_gates=n_gates)
    out: dict[float, list[Run]] = {f: [] for f in fwhms}
    if name != "pair":
        for ph in realisations(spec, fwhms, seeds):
            start = time.perf_counter()
            result = analyze_gated(_volume(ph))
            out[ph.spec.fwhm_mm].append(_set_run(result, ph, time.perf_counter() - start))
        return out
    stress_spec, rest_spec = stress_rest_specs(spec, tid=1.25)
    stress_seeds = [s + 1_000_003 for s in seeds]
    pairs = zip(realisations(stress_spec, fwhms, stress_seeds),
                realisations(rest_spec, fwhms, seeds), strict=True)  # fmt: skip
    for stress, rest in pairs:
        start = time.perf_counter()
        study = analyze_study(_volume(stress), _volume(rest))
        seconds = time.perf_counter() - start
        assert study.stress_scores is not None and study.rest_scores is not None
        assert study.tid is not None
        for ph, analysed, scores in ((stress, study.stress, study.stress_scores),
                                     (rest, study.rest, study.rest_scores)):  # fmt: skip
            assert analysed is not None
            run = _set_run(analysed, ph, seconds)
            run.tid_err = study.tid - 1.25
            run.detection = _detection(scores.scores, ph.truth.defect_segments)
            out[ph.spec.fwhm_mm].append(run)
    return out


def _share(values: np.ndarray, limit: float) -> float:
    return 100.0 * float(np.mean(np.abs(values) <= limit))


def summarise(name: str, fwhm: float, runs: list[Run]) -> dict[str, Any]:
    ef = np.array([r.ef_err for r in runs])
    edv = np.array([r.edv_err for r in runs])
    esv = np.array([r.esv_err for r in runs])
    row = {
        "case": name, "fwhm_mm": fwhm, "runs": len(runs),
        "ef_bias": float(ef.mean()), "ef_sd": float(ef.std()),
        "ef_within_goal_pct": _share(ef, 7.0 if name in SMALL else 5.0),
        "edv_err_pct": float(edv.mean()), "edv_sd_pct": float(edv.std()),
        "edv_within_goal_pct": _share(edv, 20.0 if name in SMALL else 10.0),
        "esv_err_pct": float(esv.mean()), "esv_sd_pct": float(esv.std()),
        "esv_within_goal_pct": _share(esv, 25.0 if name in SMALL else 15.0),
        "axis_err_max_deg": float(max(r.axis_err for r in runs)),
        "phase_sd_deg": float(np.mean([r.phase_sd for r in runs])),
        "phase_sd_true_deg": float(np.mean([r.phase_sd_true for r in runs])),
        "seconds": float(np.mean([r.seconds for r in runs])),
    }  # fmt: skip
    det = [r.detection for r in runs if r.detection]
    if det:
        tp, fn = sum(d["tp"] for d in det), sum(d["fn"] for d in det)
        fp, tn = sum(d["fp"] for d in det), sum(d["tn"] for d in det)
        row["sensitivity_pct"] = 100.0 * tp / max(tp + fn, 1)
        row["specificity_pct"] = 100.0 * tn / max(tn + fp, 1)
        tid = np.array([r.tid_err for r in runs if r.tid_err is not None])
        row["tid_err_mean"] = float(tid.mean())
        row["tid_within_goal_pct"] = _share(tid, 0.05)
    return row


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = (f"{'case':15s} {'FWHM':>4s} {'n':>3s} {'EF bias':>7s} {'EF sd':>5s} {'EF ok%':>6s} "
            f"{'EDV%':>6s} {'ok%':>4s} {'ESV%':>6s} {'ok%':>4s} {'axis':>5s} {'sens':>5s} "
            f"{'spec':>5s} {'TIDerr':>6s} {'phSD':>5s} {'true':>5s} {'s/run':>5s}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in rows:
        sens = f"{r['sensitivity_pct']:5.0f}" if "sensitivity_pct" in r else "    -"
        spec = f"{r['specificity_pct']:5.0f}" if "specificity_pct" in r else "    -"
        tid = f"{r['tid_err_mean']:+6.3f}" if "tid_err_mean" in r else "     -"
        print(f"{r['case']:15s} {r['fwhm_mm']:4.0f} {r['runs']:3.0f} {r['ef_bias']:+7.2f} "
              f"{r['ef_sd']:5.2f} {r['ef_within_goal_pct']:6.0f} {r['edv_err_pct']:+6.1f} "
              f"{r['edv_within_goal_pct']:4.0f} {r['esv_err_pct']:+6.1f} "
              f"{r['esv_within_goal_pct']:4.0f} {r['axis_err_max_deg']:5.1f} {sens} {spec} "
              f"{tid} {r['phase_sd_deg']:5.1f} {r['phase_sd_true_deg']:5.1f} "
              f"{r['seconds']:5.2f}")  # fmt: skip


def _goals(all_runs: dict[str, list[Run]], rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for name, runs in all_runs.items():
        ef = np.array([r.ef_err for r in runs])
        small = name in SMALL
        lines.append(f"{name}: EF bias {ef.mean():+.2f} (goal |bias| <= 3: "
                     f"{'met' if abs(ef.mean()) <= 3 else 'NOT met'}); |EF error| <= "
                     f"{7 if small else 5} in {_share(ef, 7 if small else 5):.0f}% of runs "
                     f"(goal 90%)")  # fmt: skip
        edv = np.array([r.edv_err for r in runs])
        esv = np.array([r.esv_err for r in runs])
        lines.append(f"{name}: EDV within {20 if small else 10}% in "
                     f"{_share(edv, 20 if small else 10):.0f}% of runs, ESV within "
                     f"{25 if small else 15}% in {_share(esv, 25 if small else 15):.0f}%")
        lines.append(f"{name}: long axis within 5 degrees in "
                     f"{_share(np.array([r.axis_err for r in runs]), 5.0):.0f}% of runs")
    pair = [r for r in rows if "sensitivity_pct" in r]
    if pair:
        sens = min(r["sensitivity_pct"] for r in pair)
        spec = min(r["specificity_pct"] for r in pair)
        tid = min(r["tid_within_goal_pct"] for r in pair)
        lines.append(f"pair: defect sensitivity >= {sens:.0f}%, specificity >= {spec:.0f}% "
                     f"(goal 90% each); TID within 0.05 in >= {tid:.0f}% of runs")
        worst = max(r["seconds"] for r in pair)
        lines.append(f"pair: stress + rest analysed in {worst:.2f} s on average at worst "
                     f"(goal < 10 s)")  # fmt: skip
    return lines


def _repeatable() -> bool:
    ph = next(realisations(CASES["normal"], [12.0], [99]))
    a = analyze_gated(_volume(ph))
    b = analyze_gated(_volume(ph))
    assert a.curve is not None and b.curve is not None
    return a.curve.volumes_ml == b.curve.volumes_ml and bool(
        np.array_equal(a.perfusion.values, b.perfusion.values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="12 mm, 2 seeds")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--fwhm", default="10,12,15", help="comma-separated FWHM in mm")
    parser.add_argument("--seeds", type=int, default=10, help="noise seeds per FWHM")
    parser.add_argument("--gates", type=int, default=8, help="gates per cycle (8 or 16)")
    parser.add_argument("--json", type=Path, help="also write the per-case rows as JSON")
    args = parser.parse_args(argv)
    fwhms = [12.0] if args.quick else [float(f) for f in args.fwhm.split(",")]
    seeds = list(range(2 if args.quick else args.seeds))
    rows: list[dict[str, Any]] = []
    all_runs: dict[str, list[Run]] = {}
    started = time.perf_counter()
    for name in args.cases.split(","):
        if name not in CASES:
            parser.error(f"unknown case {name!r}; choose from {', '.join(CASES)}")
        per_fwhm = run_case(name, fwhms, seeds, args.gates)
        all_runs[name] = [r for runs in per_fwhm.values() for r in runs]
        rows.extend(summarise(name, f, runs) for f, runs in per_fwhm.items())
    _print_table(rows)
    print()
    for line in _goals(all_runs, rows):
        print(line)
    print(f"repeat runs identical: {_repeatable()}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
