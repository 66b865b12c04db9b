"""``workbench measure volume``: grow a region from seeds in a series and measure it.

The series is a folder of DICOM files, or a study or series UID on an archive reached
over DICOMweb (``--url``, ``--token`` as for ``workbench ingest``). The region grows
from the seeds (patient LPS mm) through voxels within ``--lower``/``--upper`` (the
volume's units, HU for CT); the result is the volume by voxel count and by surface,
the surface area, the statistics inside, bounding box and centroid
((:class:`~workbench.measure.volume.VolumeStatistics`), as JSON or as a table.
``--seg-out`` writes the mask as a DICOM Segmentation and ``--store`` sends that SEG to
the archive (STOW-RS). :func:`measure_series` does the work and returns the JSON-ready
result; :func:`run_volume` is the command.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmwrite

from workbench.dicom.read import valid_uid
from workbench.dicomweb.client import HttpArchiveClient
from workbench.errors import WorkbenchError
from workbench.imaging.volume import series_volume
from workbench.measure.seg import segmentation
from workbench.measure.seg_archive import store_segmentation
from workbench.measure.series_source import SeriesImages, read_folder, retrieve_series
from workbench.measure.volume import measure_region

__all__ = ["VolumeRequest", "format_table", "measure_series", "parse_seed", "run_volume"]

Seed = tuple[float, float, float]


@dataclass(frozen=True)
class VolumeRequest:
    """What ``workbench measure volume`` was asked to do.

    Attributes
    ----------
    series
        A folder (or file) of DICOM files, or a study or series UID on the archive.
    seeds
        Patient LPS mm points ``(x, y, z)``.
    lower, upper, tolerance, connectivity
        As :func:`~workbench.measure.segment.region_grow` takes them.
    series_uid
        Which series of a folder or study (default: the largest image series).
    url, token
        The archive's DICOMweb root and bearer token (for UIDs and ``store``).
    seg_out
        Write the mask as DICOM SEG here.
    store
        Store the SEG on the archive (STOW-RS).
    label
        Segment Label of the SEG.
    progress
        Show progress bars on standard error.
    """

    series: str
    seeds: tuple[Seed, ...]
    lower: float | None = None
    upper: float | None = None
    tolerance: float | None = None
    connectivity: int = 1
    series_uid: str | None = None
    url: str = ""
    token: str | None = None
    seg_out: Path | None = None
    store: bool = False
    label: str = "region"
    progress: bool = False


def parse_seed(text: str) -> Seed:
    """Read ``"X,Y,Z"`` (patient LPS mm) into a point.

    Raises
    ------
    ValueError
        Not three finite numbers separated by commas (the message quotes the seed).
    """
    parts = text.split(",")
    try:
        point = tuple(float(p) for p in parts)
    except ValueError:
        point = ()
    if len(point) != 3 or not all(math.isfinite(v) for v in point):
        raise ValueError(f"seed {text!r} is not X,Y,Z in patient mm (three numbers)")
    return point[0], point[1], point[2]


def measure_series(request: VolumeRequest) -> dict[str, Any]:
    """Load the series, grow the region, measure it, write or store the SEG if asked.

    Returns
    -------
    dict
        JSON-ready: ``source``, ``study_uid``, ``series_uid``, ``slices``, ``seeds_mm``,
        ``lower``, ``upper``, ``connectivity``, every field of
        :meth:`VolumeStatistics.to_dict` and ``seg`` (``None``, or ``file``,
        ``sop_instance_uid``, ``series_uid``, ``stored``). Values that are not finite
        are ``None``.

    Raises
    ------
    ValueError
        A seed outside the volume or outside the bounds, an unreadable series, and the
        like (the message says which).
    WorkbenchError
        The archive cannot be reached, refuses the token, or does not hold the UID.
    """
    images = _load(request)
    volume = series_volume(list(images.datasets))
    mask, stats = measure_region(volume, request.seeds, request.lower, request.upper,
                                 tolerance=request.tolerance,
                                 connectivity=request.connectivity)
    result: dict[str, Any] = {
        "source": images.source, "study_uid": images.study_uid,
        "series_uid": images.series_uid, "slices": int(volume.sizes["z"]),
        "seeds_mm": [list(s) for s in request.seeds], "lower": request.lower,
        "upper": request.upper, "connectivity": request.connectivity, **stats.to_dict(),
        "seg": None,
    }
    if request.seg_out is not None or request.store:
        result["seg"] = _write_seg(request, images, mask)
    finite: dict[str, Any] = _finite(result)
    return finite


def format_table(result: dict[str, Any]) -> str:
    """Return a readable table of a :func:`measure_series` result."""
    unit = result.get("unit") or ""
    rows = [
        ("series", f"{result['series_uid']} ({result['slices']} slices, {result['source']})"),
        ("seeds", "; ".join(", ".join(f"{v:g}" for v in s) for s in result["seeds_mm"])
         + " mm"),
        ("range", f"{_bound(result['lower'])} .. {_bound(result['upper'])} {unit}".rstrip()),
        ("volume (voxels)", f"{_num(result['voxel_volume_ml'])} mL "
                            f"({result['voxel_count']} voxels)"),
        ("volume (surface)", f"{_num(result['surface_volume_ml'])} mL"),
        ("surface area", f"{_num(result['surface_area_mm2'])} mm²"),
        ("mean", f"{_num(result['mean'])} {unit}"),
        ("standard deviation", f"{_num(result['std'])} {unit}"),
        ("minimum / maximum", f"{_num(result['minimum'])} / {_num(result['maximum'])} {unit}"),
        ("median", f"{_num(result['median'])} {unit}"),
        ("centroid", ", ".join(_num(v) for v in result["centroid_mm"]) + " mm"),
        ("bounding box", " .. ".join("(" + ", ".join(_num(v) for v in corner) + ")"
                                     for corner in (result["bbox_min_mm"],
                                                    result["bbox_max_mm"])) + " mm"),
    ]
    seg = result.get("seg")
    if seg:
        where = seg["file"] or ""
        if seg["stored"]:
            where = (where + ", " if where else "") + "stored on the archive"
        rows.append(("segmentation", f"{seg['sop_instance_uid']} ({where})"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value.rstrip()}" for name, value in rows)


def run_volume(args: argparse.Namespace, token: str | None) -> int:
    """Run ``workbench measure volume`` from parsed arguments; return the exit status.

    Prints the result (JSON with ``--json``, else a table) on standard output, and
    errors as ``workbench measure volume: error: ...`` on standard error (status 2).
    """
    try:
        request = VolumeRequest(
            series=args.series, seeds=tuple(parse_seed(s) for s in args.seed),
            lower=args.lower, upper=args.upper, tolerance=args.tolerance,
            connectivity=args.connectivity, series_uid=args.series_uid, url=args.url,
            token=token, seg_out=Path(args.seg_out) if args.seg_out else None,
            store=args.store, label=args.label, progress=not args.quiet)
        result = measure_series(request)
    except (ValueError, OSError, WorkbenchError) as exc:
        print(f"workbench measure volume: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


def _load(request: VolumeRequest) -> SeriesImages:
    if not request.seeds:
        raise ValueError("give at least one --seed X,Y,Z (patient mm)")
    path = Path(request.series)
    if path.exists():
        return read_folder(path, series_uid=request.series_uid, progress=request.progress)
    if not valid_uid(request.series):
        raise ValueError(f"{request.series!r} is neither a folder nor a study or series UID")
    with HttpArchiveClient(request.url, token=request.token) as client:
        return retrieve_series(client, request.series, series_uid=request.series_uid,
                               progress=request.progress, source=request.url)


def _write_seg(request: VolumeRequest, images: SeriesImages, mask: Any) -> dict[str, Any]:
    bounds = f"{_bound(request.lower)}..{_bound(request.upper)}"
    seg = segmentation(mask, images.datasets, label=request.label,
                       algorithm_name=f"workbench region growing {bounds}")
    if request.seg_out is not None:
        dcmwrite(request.seg_out, seg, enforce_file_format=True)
    if request.store:
        with HttpArchiveClient(request.url, token=request.token) as client:
            store_segmentation(client, seg)
    return {"file": str(request.seg_out) if request.seg_out else None,
            "sop_instance_uid": str(seg.SOPInstanceUID),
            "series_uid": str(seg.SeriesInstanceUID), "stored": request.store}


def _bound(value: float | None) -> str:
    return "open" if value is None else f"{value:g}"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.6g}"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
