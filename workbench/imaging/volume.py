"""A series (or an enhanced multi-frame image) as an ``xarray.DataArray`` volume.

Dims are ``("z", "y", "x")``: slice, row, column. Coordinates are millimetres:
``z`` the signed distance of each slice from the first along the slice normal
(row cosine x column cosine), increasing; ``y`` = row index x row spacing, along the
column cosine; ``x`` = column index x column spacing, along the row cosine; ``y`` and
``x`` are measured from each slice's own Image Position (Patient), so a gantry-tilted
stack is a sheared grid (see :class:`~workbench.imaging.geometry.VolumeGeometry`).
Values are modality LUT output (HU for CT) as ``float32``, padding pixels NaN.

Attributes (plain values, so that they survive copies):

``affine``
    4 x 4 nested list from ``(x=col, y=row, z=slice, 1)`` voxel index to LPS mm.
``spacing``
    ``(dz, dy, dx)`` in mm (dz the median slice spacing).
``units``, ``modality``, ``series_instance_uid``, ``frame_of_reference_uid``
    As the names say; units from :func:`~workbench.imaging.lut.modality_units`.
``sop_instance_uids``
    One per slice, in z order (the same UID repeated for a multi-frame image).
``pixel_spacing_source``
    Where Pixel Spacing came from (:class:`~workbench.imaging.planes.PixelSpacing`).
``image_orientation_patient``, ``image_positions_patient``, ``slice_thickness``
    The geometry, from which :func:`geometry_of` rebuilds it.
``tilted``, ``uneven``, ``tilt_degrees``, ``warnings``
    What :class:`~workbench.imaging.geometry.VolumeGeometry` reports.
``photometric_interpretation``, ``window``
    For display: MONOCHROME1/2 and the dataset's first window ``(center, width,
    function)`` if any.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from pydicom.dataset import Dataset

from workbench.dicom.frames import decode_frame, number_of_frames
from workbench.imaging.geometry import VolumeGeometry, orthonormal_cosines
from workbench.imaging.lut import (
    apply_modality_lut,
    modality_units,
    padding_mask,
    window_from_dataset,
)
from workbench.imaging.planes import pixel_spacing, plane_geometry, stack_planes

__all__ = ["geometry_of", "series_volume", "volume_dataarray"]

_GREY = ("MONOCHROME1", "MONOCHROME2")


def series_volume(
    datasets: Dataset | Sequence[Dataset],
    *,
    frames: Sequence[int] | None = None,
    mask_padding: bool = True,
    tolerance: float = 0.01,
) -> xr.DataArray:
    """Build the volume of one series of parallel slices.

    Parameters
    ----------
    datasets
        Single-frame images of one series (any order), or one multi-frame image whose
        frames are slices: enhanced CT/MR/PET (Plane Position and Pixel Value
        Transformation functional groups, per frame or shared) or NM RECON TOMO.
    frames
        One-based frame numbers to use from a multi-frame image (default: all), e.g.
        one stack or time point of an enhanced MR.
    mask_padding
        Set pixels equal to Pixel Padding Value (or within the padding range) to NaN.
    tolerance
        Position tolerance in mm (see :class:`VolumeGeometry`).

    Returns
    -------
    xarray.DataArray
        ``float32`` values with dims ``("z", "y", "x")``, coordinates and attributes
        as the module describes, plus ``sop_instance_uid`` and ``frame`` (one-based)
        coordinates along ``z``.

    Raises
    ------
    ValueError
        Images from several series or frames of reference, colour images, differing
        orientation, size or spacing, or two slices at one position (the message
        names the attribute).
    MissingAttributeError
        An image without Image Position/Orientation (Patient) or Pixel Spacing.

    Examples
    --------
    >>> from workbench.demo import DEMO_PATIENTS, ct_series
    >>> slices = ct_series(DEMO_PATIENTS[0], seed=1, n_slices=4, rows=32, columns=32)
    >>> volume = series_volume(slices)
    >>> volume.dims, volume.attrs["units"], volume.attrs["spacing"]
    (('z', 'y', 'x'), 'HU', (2.5, 0.7, 0.7))
    >>> volume.z.values.tolist()
    [0.0, 2.5, 5.0, 7.5]
    """
    sources = _sources(datasets, frames)
    first = sources[0][0]
    for keyword in ("SeriesInstanceUID", "FrameOfReferenceUID"):
        found = {str(ds.get(keyword, "")) for ds, _ in sources}
        if len(found) > 1:
            raise ValueError(f"{keyword} differs between images: {sorted(found)}")
    planes = [plane_geometry(ds, frame) for ds, frame in sources]
    thickness = float(first.get("SliceThickness") or 0) or 1.0
    geometry, order = stack_planes(planes, slice_thickness=thickness, tolerance=tolerance)
    values = np.empty(geometry.shape, dtype=np.float32)
    interpretation = ""
    for z, index in enumerate(order):
        ds, frame = sources[index]
        stored, interpretation = decode_frame(ds, frame)
        if interpretation not in _GREY or stored.ndim != 2:
            raise ValueError(
                f"PhotometricInterpretation {interpretation!r}: a volume needs grey-scale "
                "images (use workbench.imaging.cine.cine_array for colour)"
            )
        values[z] = apply_modality_lut(stored, ds, frame)
        mask = padding_mask(stored, ds) if mask_padding else None
        if mask is not None:
            values[z][mask] = np.nan
    attrs: dict[str, Any] = {
        "units": modality_units(first, sources[order[0]][1]),
        "modality": str(first.get("Modality", "")),
        "series_instance_uid": str(first.get("SeriesInstanceUID", "")),
        "frame_of_reference_uid": str(first.get("FrameOfReferenceUID", "")),
        "sop_instance_uids": tuple(str(sources[i][0].get("SOPInstanceUID", "")) for i in order),
        "pixel_spacing_source": pixel_spacing(first, sources[0][1]).source,
        "photometric_interpretation": interpretation,
    }
    window = window_from_dataset(first, sources[order[0]][1])
    if window is not None:
        attrs["window"] = window
    volume = volume_dataarray(values, geometry, attrs)
    return volume.assign_coords(
        sop_instance_uid=("z", list(attrs["sop_instance_uids"])),
        frame=("z", [sources[i][1] for i in order]),
    )


def volume_dataarray(
    values: npt.NDArray[Any], geometry: VolumeGeometry, attrs: Mapping[str, Any] | None = None
) -> xr.DataArray:
    """Wrap ``(z, y, x)`` `values` laid out as `geometry` says in a DataArray.

    Coordinates and the geometry attributes (``affine``, ``spacing``,
    ``image_orientation_patient``, ``image_positions_patient``, ``slice_thickness``,
    ``tilted``, ``uneven``, ``tilt_degrees``, ``warnings``) come from `geometry`;
    `attrs` adds the rest. `values` is used as it is, not copied.

    Raises
    ------
    ValueError
        `values` does not have the geometry's shape.
    """
    if values.shape != geometry.shape:
        raise ValueError(f"values of shape {values.shape} do not fit {geometry.shape}")
    dz, dy, dx = geometry.spacing
    mm = {"units": "mm"}
    coords = {
        "z": ("z", np.array(geometry.positions, dtype=np.float64), mm),
        "y": ("y", np.arange(geometry.rows) * dy, mm),
        "x": ("x", np.arange(geometry.columns) * dx, mm),
    }
    geometric = {
        "affine": geometry.affine.tolist(),
        "spacing": (dz, dy, dx),
        "image_orientation_patient": [*geometry.row_cosine, *geometry.column_cosine],
        "image_positions_patient": [list(origin) for origin in geometry.origins],
        "slice_thickness": geometry.slice_thickness,
        "tilted": geometry.is_tilted,
        "uneven": geometry.is_uneven,
        "tilt_degrees": geometry.tilt_degrees,
        "warnings": geometry.warnings,
    }
    return xr.DataArray(values, dims=("z", "y", "x"), coords=coords,
                        attrs={**(attrs or {}), **geometric})  # fmt: skip


def geometry_of(volume: xr.DataArray) -> VolumeGeometry:
    """Return the geometry of `volume`, also after it was cut with ``isel``/``sel``.

    The geometry attributes describe the volume as built; the coordinates say which
    slices, rows and columns are left, so a sub-volume (slices in increasing z,
    rows and columns at a regular step) gets its own origins and spacing.

    Raises
    ------
    ValueError
        No geometry attributes, or coordinates that match no slice or are not regular.
    """
    attrs = volume.attrs
    try:
        row, col = orthonormal_cosines(attrs["image_orientation_patient"])
        origins = tuple((float(a), float(b), float(c)) for a, b, c in
                        attrs["image_positions_patient"])  # fmt: skip
        _, dy, dx = (float(v) for v in attrs["spacing"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"volume has no usable geometry attributes: {exc}") from None
    full = VolumeGeometry(origins, row, col, (dy, dx), 1, 1,
                          float(attrs.get("slice_thickness", 1.0)))  # fmt: skip
    z = np.atleast_1d(np.asarray(volume["z"].values, dtype=np.float64))
    distance = np.abs(z[:, None] - full.positions[None, :])
    slices = [int(k) for k in distance.argmin(axis=1)]
    if distance.min(axis=1).max(initial=0.0) > max(full.tolerance, 1e-6):
        raise ValueError("z coordinates match no slice of the volume's geometry")
    row_start, row_step = _regular(volume["y"].values, dy, "y")
    col_start, col_step = _regular(volume["x"].values, dx, "x")
    return full.subset(slices, row_start, col_start, volume.sizes["y"], volume.sizes["x"],
                       (row_step, col_step))  # fmt: skip


# -- helpers -------------------------------------------------------------------------


def _sources(
    datasets: Dataset | Sequence[Dataset], frames: Sequence[int] | None
) -> list[tuple[Dataset, int]]:
    items = [datasets] if isinstance(datasets, Dataset) else list(datasets)
    if not items:
        raise ValueError("no datasets given")
    if len(items) == 1 and number_of_frames(items[0]) > 1:
        count = number_of_frames(items[0])
        chosen = list(range(1, count + 1)) if frames is None else [int(f) for f in frames]
        if any(not 1 <= f <= count for f in chosen):
            raise ValueError(f"frames must be between 1 and {count} (NumberOfFrames)")
        return [(items[0], f) for f in chosen]
    if frames is not None:
        raise ValueError("frames= applies to one multi-frame image only")
    return [(ds, 1) for ds in items]


def _regular(values: npt.ArrayLike, spacing: float, dim: str) -> tuple[int, int]:
    """(start index, step) of coordinates that are index x spacing at a regular step."""
    index = np.atleast_1d(np.asarray(values, dtype=np.float64)) / spacing
    rounded = np.rint(index)
    steps = np.diff(rounded)
    if np.abs(index - rounded).max(initial=0.0) > 1e-3 or (
        steps.size and np.any(steps != steps[0])
    ):
        raise ValueError(f"{dim} coordinates are not a regular subset of the volume's grid")
    step = int(steps[0]) if steps.size else 1
    if step < 1:
        raise ValueError(f"{dim} coordinates must increase")
    return int(rounded[0]), step
