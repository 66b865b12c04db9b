"""Volumetric measurements of a mask on a volume: size, surface, statistics, position.

Volume and mask follow :mod:`workbench.measure._grid` (dims ``("z", "y", "x")``,
``attrs["affine"]`` voxel ``(x, y, z)`` -> LPS mm, ``attrs["units"]`` of the voxel
values). Two volumes are reported: the *voxel* volume, voxel count times the voxel
volume (``|det|`` of the affine), exact for the mask as it is; and the *surface*
volume, enclosed by the smoothed marching-cubes surface (:mod:`workbench.measure.mesh`),
closer to the object for smooth shapes. Statistics are computed in float64 over the
finite voxel values inside (NaN marks padding in volumes from
:func:`workbench.imaging.volume.series_volume`; such voxels still count in the
volume), with the population standard deviation (``ddof=0``). Positions are patient
LPS mm ``(x, y, z)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import xarray as xr

from workbench.measure import _grid
from workbench.measure.calibration import Calibration
from workbench.measure.mesh import surface_mesh
from workbench.measure.reference import Quantity
from workbench.measure.segment import region_grow
from workbench.measure.units import MILLILITRE, MILLIMETRE, SQUARE_MILLIMETRE

__all__ = ["VolumeStatistics", "measure_region", "measure_volume"]

Vector = tuple[float, float, float]


@dataclass(frozen=True)
class VolumeStatistics:
    """What :func:`measure_volume` reports for one mask.

    Attributes
    ----------
    voxel_count
        Number of voxels in the mask.
    voxel_volume_ml
        ``voxel_count`` times the voxel volume, in mL.
    surface_volume_ml
        Volume enclosed by the smoothed surface, in mL.
    surface_area_mm2
        Area of that surface, in mm².
    mean, std, minimum, maximum, median
        Statistics of the finite voxel values inside, in `unit` (NaN if none is).
    unit
        The volume's ``attrs["units"]`` (``"HU"``), ``""`` when absent.
    bbox_index
        ``((z0, z1), (y0, y1), (x0, x1))``: zero-based voxel index ranges of the
        mask's bounding box, start inclusive, stop exclusive.
    bbox_min_mm, bbox_max_mm
        Opposite corners, LPS mm, of the patient-axis-aligned box holding the centres
        of the bounding box's corner voxels.
    centroid_mm
        Mean position of the mask's voxel centres, LPS mm.
    calibration
        Voxel spacing from the affine (kind ``VOLUME``, mm).
    """

    voxel_count: int
    voxel_volume_ml: float
    surface_volume_ml: float
    surface_area_mm2: float
    mean: float
    std: float
    minimum: float
    maximum: float
    median: float
    unit: str
    bbox_index: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
    bbox_min_mm: Vector
    bbox_max_mm: Vector
    centroid_mm: Vector
    calibration: Calibration

    def quantities(self) -> tuple[Quantity, ...]:
        """Return the volumes, the surface area, the statistics and the voxel count."""
        return (
            Quantity("volume (voxels)", self.voxel_volume_ml, MILLILITRE),
            Quantity("volume (surface)", self.surface_volume_ml, MILLILITRE),
            Quantity("surface area", self.surface_area_mm2, SQUARE_MILLIMETRE),
            Quantity("mean", self.mean, self.unit),
            Quantity("standard deviation", self.std, self.unit),
            Quantity("minimum", self.minimum, self.unit),
            Quantity("maximum", self.maximum, self.unit),
            Quantity("median", self.median, self.unit),
            Quantity("voxel count", float(self.voxel_count), "voxels"),
            *(Quantity(f"centroid {a}", v, MILLIMETRE) for a, v in zip("xyz", self.centroid_mm,
                                                                         strict=True)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (tuples as lists, the calibration kind as a string)."""
        out = asdict(self)
        out["calibration"] = {
            "kind": str(self.calibration.kind),
            "spacing_mm": [self.calibration.slice_spacing, self.calibration.row_spacing,
                           self.calibration.column_spacing],
        }
        lists: dict[str, Any] = _lists(out)
        return lists


def measure_volume(
    volume: xr.DataArray, mask: xr.DataArray, *, smoothing_iterations: int = 10
) -> VolumeStatistics:
    """Measure the part of `volume` inside `mask`.

    Parameters
    ----------
    volume
        Voxel values, dims ``("z", "y", "x")`` with ``attrs["affine"]``.
    mask
        Boolean DataArray aligned with `volume`.
    smoothing_iterations
        Taubin iterations for the surface (see :func:`~workbench.measure.mesh.surface_mesh`).

    Raises
    ------
    ValueError
        The mask is empty or not aligned with the volume.
    """
    matrix = _grid.affine(volume)
    inside = _grid.check_mask(mask, volume)
    box = _grid.bounding_slices(inside)
    if box is None:
        raise ValueError("the mask is empty: nothing to measure")
    crop = inside[box]
    values = np.asarray(volume.values[box][crop], dtype=np.float64)
    count = int(values.size)
    values = values[np.isfinite(values)]
    if values.size == 0:
        values = np.array([np.nan])
    mesh = surface_mesh(mask, smoothing_iterations=smoothing_iterations)
    centroid = [
        float((crop.sum(axis=tuple(a for a in range(3) if a != axis)) *
               np.arange(box[axis].start, box[axis].stop)).sum() / count)
        for axis in range(3)
    ]
    corners = np.array([[z, y, x] for z in (box[0].start, box[0].stop - 1)
                        for y in (box[1].start, box[1].stop - 1)
                        for x in (box[2].start, box[2].stop - 1)])
    corners_mm = _grid.to_patient(matrix, corners)
    return VolumeStatistics(
        voxel_count=count,
        voxel_volume_ml=count * _grid.voxel_volume_mm3(matrix) / 1000.0,
        surface_volume_ml=mesh.volume_mm3 / 1000.0,
        surface_area_mm2=mesh.area_mm2,
        mean=float(values.mean()),
        std=float(values.std()),
        minimum=float(values.min()),
        maximum=float(values.max()),
        median=float(np.median(values)),
        unit=str(volume.attrs.get("units", "")),
        bbox_index=((box[0].start, box[0].stop), (box[1].start, box[1].stop),
                    (box[2].start, box[2].stop)),
        bbox_min_mm=_vector(corners_mm.min(axis=0)),
        bbox_max_mm=_vector(corners_mm.max(axis=0)),
        centroid_mm=_vector(_grid.to_patient(matrix, centroid)[0]),
        calibration=_grid.calibration(matrix),
    )


def measure_region(
    volume: xr.DataArray,
    seeds: Sequence[Sequence[float]],
    lower: float | None = None,
    upper: float | None = None,
    *,
    tolerance: float | None = None,
    connectivity: int = 1,
) -> tuple[xr.DataArray, VolumeStatistics]:
    """Grow a region from `seeds` and measure it (what a scripted volume command prints).

    Parameters are those of :func:`workbench.measure.segment.region_grow`: seeds are
    patient LPS mm ``(x, y, z)``, bounds inclusive in the volume's units.

    Returns
    -------
    tuple of (xarray.DataArray, VolumeStatistics)
        The boolean mask and its measurements (``stats.to_dict()`` is JSON-ready).
    """
    mask = region_grow(volume, seeds, lower, upper, tolerance=tolerance,
                       connectivity=connectivity)
    return mask, measure_volume(volume, mask)


def _vector(values: Any) -> Vector:
    return float(values[0]), float(values[1]), float(values[2])


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value
