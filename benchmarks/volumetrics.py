#!/usr/bin/env python3
"""Volumetrics on a 512x512x300 CT: region growing, volume and surface against SimpleITK.

Makes a seeded CT volume (HU, float32, 0.7 x 0.7 mm pixels, 1 mm slices): air, an
elliptic body of soft tissue (40 HU), an enhancing ellipsoid lesion (150 HU, semi-axes
35 x 30 x 25 mm) and, beside it, an unconnected vessel of the same density that a plain
threshold would take in; noise is Gaussian, sigma 10 HU, clipped at 4 sigma, so the lesion
is exactly the voxels whose centre lies in the ellipsoid. From a seed in the lesion, with
the range 100..200 HU, it times (median of ``--repeats``, ours and the peer alternating):

* region growing: ``workbench.measure.region_grow`` against SimpleITK's
  ``ConnectedThreshold`` (the peer), on the same array;
* region growing over the whole body (-100..99 HU, most of the volume): the worst case
  for ours, which floods a box that grows around the seed;
* the whole measurement: ``workbench.measure.measure_region`` (region growing, voxel
  volume, marching-cubes surface with Taubin smoothing, enclosed volume and area,
  statistics, bounding box, centroid) against ``ConnectedThreshold`` followed by
  SimpleITK's ``LabelShapeStatisticsImageFilter`` (physical size, perimeter, centroid,
  bounding box) and ``LabelIntensityStatisticsImageFilter`` (mean, SD, min, max, median).

Both get their input ready-made outside the clock: ours an ``xarray.DataArray``, the
peer a ``SimpleITK.Image`` with the same spacing and origin. Goal (issue 5): the whole
measurement under 2 s, and no slower than the peer. Prints the times, the ratios (peer
time / ours: above 1 means ours is faster) and the accuracy of both against the truth.
A goal not met does not fail the run.

    .venv/bin/python benchmarks/volumetrics.py              # 512 x 512 x 300, ~1 min
    .venv/bin/python benchmarks/volumetrics.py --quick      # 256 x 256 x 120
    .venv/bin/python benchmarks/volumetrics.py --repeats 9 --json volumetrics.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.measure import measure_region, region_grow  # noqa: E402

GOAL_S = 2.0
SPACING = (1.0, 0.7, 0.7)  # (slice, row, column) mm
LOWER, UPPER = 100.0, 200.0
SEMI_AXES = (25.0, 30.0, 35.0)  # (z, y, x) mm
LESION_HU, TISSUE_HU, AIR_HU, NOISE_HU = 150.0, 40.0, -1000.0, 10.0
BODY_LOWER, BODY_UPPER = -100.0, 99.0  # the soft tissue, not the lesion nor the vessel


def make_ct(shape: tuple[int, int, int], seed: int) -> tuple[np.ndarray, tuple[float, ...], int]:
    """Return ``(HU volume (z, y, x), lesion centre in voxels, true voxel count)``."""
    nz, ny, nx = shape
    rng = np.random.default_rng(seed)
    dz, dy, dx = SPACING
    centre = (nz / 2 + 0.3, ny / 2 - 20.4, nx / 2 + 30.2)
    y = (np.arange(ny) - ny / 2) * dy
    x = (np.arange(nx) - nx / 2) * dx
    body = (y[:, None] / (0.42 * ny * dy)) ** 2 + (x[None, :] / (0.47 * nx * dx)) ** 2 <= 1
    vessel = ((y[:, None] - (centre[1] - ny / 2) * dy) ** 2
              + (x[None, :] - (centre[2] - nx / 2) * dx + SEMI_AXES[2] + 15.0) ** 2) <= 8.0**2
    plane = np.where(body, TISSUE_HU, AIR_HU).astype(np.float32)
    plane[vessel & body] = LESION_HU
    values = np.empty(shape, dtype=np.float32)
    values[:] = plane
    zz = ((np.arange(nz) - centre[0]) * dz / SEMI_AXES[0]) ** 2
    yy = ((np.arange(ny) - centre[1]) * dy / SEMI_AXES[1]) ** 2
    xx = ((np.arange(nx) - centre[2]) * dx / SEMI_AXES[2]) ** 2
    lesion = zz[:, None, None] + yy[None, :, None] + xx[None, None, :] <= 1
    values[lesion] = LESION_HU
    for k in range(nz):  # slice by slice: less memory than one (nz, ny, nx) draw
        noise = rng.standard_normal((ny, nx), dtype=np.float32) * np.float32(NOISE_HU)
        values[k] += np.clip(noise, -4 * NOISE_HU, 4 * NOISE_HU)
    return values, centre, int(lesion.sum())


def ellipsoid_area() -> float:
    """The lesion's surface area in mm² (Knud Thomsen's approximation, p = 1.6075)."""
    a, b, c = SEMI_AXES
    p = 1.6075
    return 4 * math.pi * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p)


def as_dataarray(values: np.ndarray) -> xr.DataArray:
    """Our input: dims (z, y, x), mm coordinates, voxel (x, y, z) -> LPS affine, HU."""
    dz, dy, dx = SPACING
    affine = np.diag([dx, dy, dz, 1.0])
    coords = {"z": np.arange(values.shape[0]) * dz, "y": np.arange(values.shape[1]) * dy,
              "x": np.arange(values.shape[2]) * dx}
    return xr.DataArray(values, dims=("z", "y", "x"), coords=coords,
                        attrs={"affine": affine.tolist(), "units": "HU"})


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 x 256 x 120 instead")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        import SimpleITK as sitk
    except ImportError:
        print("SimpleITK is not installed: .venv/bin/pip install SimpleITK", file=sys.stderr)
        return 2

    shape = (120, 256, 256) if args.quick else (300, 512, 512)
    print(f"making a {shape[2]}x{shape[1]}x{shape[0]} CT (seed {args.seed}) ...", flush=True)
    values, centre, truth_voxels = make_ct(shape, args.seed)
    volume = as_dataarray(values)
    image = sitk.GetImageFromArray(values)
    image.SetSpacing((SPACING[2], SPACING[1], SPACING[0]))
    seed_index = tuple(int(round(c)) for c in centre)  # (z, y, x)
    seed_mm = [seed_index[2] * SPACING[2], seed_index[1] * SPACING[1],
               seed_index[0] * SPACING[0]]
    sitk_seed = [(seed_index[2], seed_index[1], seed_index[0])]
    voxel_ml = math.prod(SPACING) / 1000
    analytic_ml = 4 / 3 * math.pi * math.prod(SEMI_AXES) / 1000

    def ours_grow() -> xr.DataArray:
        return region_grow(volume, [seed_mm], LOWER, UPPER)

    def peer_grow() -> Any:
        return sitk.ConnectedThreshold(image, seedList=sitk_seed, lower=LOWER, upper=UPPER)

    def ours_full() -> Any:
        return measure_region(volume, [seed_mm], LOWER, UPPER)[1]

    def peer_full() -> dict[str, float]:
        mask = peer_grow()
        shape_stats = sitk.LabelShapeStatisticsImageFilter()
        shape_stats.ComputePerimeterOn()
        shape_stats.Execute(mask)
        intensity = sitk.LabelIntensityStatisticsImageFilter()
        intensity.Execute(mask, image)
        return {"voxels": shape_stats.GetNumberOfPixels(1),
                "volume_ml": shape_stats.GetPhysicalSize(1) / 1000,
                "perimeter_mm2": shape_stats.GetPerimeter(1),
                "centroid": shape_stats.GetCentroid(1), "mean": intensity.GetMean(1),
                "sd": intensity.GetStandardDeviation(1), "median": intensity.GetMedian(1)}

    body_seed = [(shape[2] // 2 - 40) * SPACING[2], (shape[1] // 2) * SPACING[1],
                 (shape[0] // 2) * SPACING[0]]  # soft tissue, left of the lesion

    def ours_body() -> xr.DataArray:
        return region_grow(volume, [body_seed], BODY_LOWER, BODY_UPPER)

    def peer_body() -> Any:
        seed = [(shape[2] // 2 - 40, shape[1] // 2, shape[0] // 2)]
        return sitk.ConnectedThreshold(image, seedList=seed, lower=BODY_LOWER,
                                       upper=BODY_UPPER)

    figures: dict[str, dict[str, float]] = {}
    results: dict[str, Any] = {}
    for name, ours, peer in (("region growing", ours_grow, peer_grow),
                             ("region growing + volume, surface, statistics", ours_full,
                              peer_full),
                             ("region growing, the whole body (worst case)", ours_body,
                              peer_body)):
        ours_times, peer_times = [], []
        for repeat in range(args.repeats + 1):  # the first of each is an untimed warm-up
            order = [(ours, ours_times), (peer, peer_times)]
            for function, times in order if repeat % 2 == 0 else order[::-1]:
                seconds, result = timed(function)
                if repeat:
                    times.append(seconds)
                results[f"{name}/{'ours' if function is ours else 'peer'}"] = result
        ours_s, peer_s = statistics.median(ours_times), statistics.median(peer_times)
        figures[name] = {"ours_s": ours_s, "peer_s": peer_s, "ratio": peer_s / ours_s}

    stats = results["region growing + volume, surface, statistics/ours"]
    peer = results["region growing + volume, surface, statistics/peer"]
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    print(f"\nlesion: {truth_voxels} voxels = {truth_voxels * voxel_ml:.3f} mL; ellipsoid "
          f"{analytic_ml:.3f} mL; {len(os.sched_getaffinity(0))} CPUs, SimpleITK "
          f"{sitk.Version.VersionString()} with {threads} threads; median of {args.repeats}\n")
    print(f"{'figure':<48}{'workbench':>11}{'SimpleITK':>11}{'ratio':>8}  goal")
    for name, f in figures.items():
        full = name.startswith("region growing +")
        goal = f"< {GOAL_S:g} s, ratio >= 1" if full else "ratio >= 1"
        met = f["ratio"] >= 1 and (not full or f["ours_s"] < GOAL_S)
        print(f"{name:<48}{f['ours_s']:>10.3f}s{f['peer_s']:>10.3f}s{f['ratio']:>8.2f}  "
              f"{goal} ({'met' if met else 'NOT met'})")
    body = int(results["region growing, the whole body (worst case)/ours"].sum())
    peer_body_voxels = int(sitk.GetArrayViewFromImage(
        results["region growing, the whole body (worst case)/peer"]).sum())
    accuracy = {
        "truth_voxels": truth_voxels, "ellipsoid_ml": analytic_ml,
        "ours_voxels": stats.voxel_count, "ours_voxel_ml": stats.voxel_volume_ml,
        "ours_surface_ml": stats.surface_volume_ml, "ours_area_mm2": stats.surface_area_mm2,
        "peer_voxels": peer["voxels"], "peer_ml": peer["volume_ml"],
        "peer_perimeter_mm2": peer["perimeter_mm2"],
    }
    print(f"\nvoxels: ours {stats.voxel_count}, SimpleITK {peer['voxels']}, truth {truth_voxels}")
    print(f"volume: ours {stats.voxel_volume_ml:.3f} mL by voxels, "
          f"{stats.surface_volume_ml:.3f} mL by surface "
          f"({100 * (stats.surface_volume_ml / analytic_ml - 1):+.2f} % of the ellipsoid); "
          f"SimpleITK {peer['volume_ml']:.3f} mL")
    print(f"surface: ours {stats.surface_area_mm2:.0f} mm², SimpleITK perimeter "
          f"{peer['perimeter_mm2']:.0f} mm², ellipsoid {ellipsoid_area():.0f} mm² "
          "(Knud Thomsen's formula, within 1.1 %)")
    print(f"mean: ours {stats.mean:.2f} HU, SimpleITK {peer['mean']:.2f} HU")
    print(f"whole body: ours {body} voxels, SimpleITK {peer_body_voxels} "
          f"({100 * body / values.size:.0f} % of the volume)")
    accuracy.update(body_voxels=body, peer_body_voxels=peer_body_voxels)
    if args.json:
        Path(args.json).write_text(json.dumps({"shape": shape, "figures": figures,
                                               "accuracy": accuracy}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
