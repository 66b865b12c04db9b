"""A region on a series' volume, for the viewer's volume tool: load, grow, brush, measure, SEG.

:class:`SeriesRegion` holds what the tool works on in the page's Python session: the
series as a volume (:func:`workbench.imaging.volume.series_volume`, retrieved over
WADO-RS through an :class:`~workbench.dicomweb.client_base.ArchiveClient`), the mask
drawn on it and the stored SEG segments of the series. Its methods block (run them on a
worker thread in a served page) and are serialised by a lock. Positions come as the
viewer has them: a display index (zero-based, :class:`~workbench.viewer.series.SeriesDisplay`
order) and ``(row, col)`` of that acquired image; they are mapped to the volume's slice
through (SOP Instance UID, frame), and to patient LPS mm through the volume's affine.
No Panel here: :mod:`workbench.viewer.volume_tool` is the interactive side.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from io import BytesIO

import numpy as np
import numpy.typing as npt
import xarray as xr
from pydicom import dcmread
from pydicom.dataset import Dataset

from workbench.dicomweb.client_base import ArchiveClient
from workbench.imaging.volume import series_volume
from workbench.measure.seg import segmentation
from workbench.measure.seg_archive import (
    ArchivedMask,
    find_segmentations,
    read_archived_masks,
    store_segmentation,
)
from workbench.measure.segment import brush_stroke, region_grow
from workbench.measure.volume import VolumeStatistics, measure_volume
from workbench.viewer.display import SeriesDisplay

__all__ = ["Progress", "SeriesRegion", "describe_volume", "mask_overlay"]

Progress = Callable[[str], None]
"""Receives what is being done, as text for the reader."""
Bounds = tuple[float | None, float | None]


def _quiet(_: str) -> None:
    return None


def mask_overlay(values: npt.NDArray[np.bool_], index_of_z: Sequence[int]) -> dict[str, list[int]]:
    """Run-lengths of each displayed image holding mask voxels, for the browser.

    Parameters
    ----------
    values
        Boolean mask ``(z, y, x)`` of the volume.
    index_of_z
        Display index (zero-based) of each volume slice.

    Returns
    -------
    dict
        ``{str(display index): [start, length, start, length, ...]}``: runs of True in
        the slice flattened row by row (``start = row * columns + col``).

    Examples
    --------
    >>> mask = np.zeros((2, 2, 3), dtype=bool)
    >>> mask[1, 0, 1:] = mask[1, 1, 0] = True
    >>> mask_overlay(mask, [5, 4])
    {'4': [1, 3]}
    """
    flat = values.reshape(values.shape[0], -1)
    out: dict[str, list[int]] = {}
    for z in np.flatnonzero(flat.any(axis=1)):
        padded = np.concatenate(([False], flat[z], [False]))
        edges = np.flatnonzero(padded[1:] != padded[:-1])
        runs = np.empty(edges.size, dtype=np.int64)
        runs[0::2], runs[1::2] = edges[0::2], edges[1::2] - edges[0::2]
        out[str(index_of_z[int(z)])] = runs.tolist()
    return out


def _number(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.1f}"


def describe_volume(stats: VolumeStatistics) -> str:
    """The text shown for a measured region: volumes, surface, statistics, calibration.

    The voxel volume (count times voxel size) comes first: it is exact for the mask as
    it is; the surface volume is the smoothed marching-cubes surface's.
    """
    unit = f" {stats.unit}" if stats.unit else ""
    cal = stats.calibration
    spacing = " x ".join(f"{v:.2f}" for v in (cal.slice_spacing or 0.0, cal.row_spacing,
                                               cal.column_spacing))
    return (f"{stats.voxel_volume_ml:.2f} mL ({stats.voxel_count} voxels); "
            f"surface {stats.surface_volume_ml:.2f} mL, "
            f"area {stats.surface_area_mm2:.0f} mm\u00b2; "
            f"mean {_number(stats.mean)}{unit} SD {_number(stats.std)}{unit} "
            f"min {_number(stats.minimum)} max {_number(stats.maximum)}{unit} "
            f"(voxel spacing {spacing} mm)")


class SeriesRegion:
    """A series' volume, the mask drawn on it and the series' stored SEG segments.

    Parameters
    ----------
    client
        The archive the series comes from and the SEG goes to (as the reader).
    series
        The series as the viewer shows it (its frames give the display order).

    Attributes
    ----------
    volume
        The volume, once loaded (:meth:`load`), else None.
    mask
        The region: a boolean DataArray aligned with ``volume``, or None.
    masks
        The stored SEG segments of the series read so far (and those saved here).
    """

    def __init__(self, client: ArchiveClient, series: SeriesDisplay) -> None:
        self.client, self.series = client, series
        self.volume: xr.DataArray | None = None
        self.mask: xr.DataArray | None = None
        self.masks: list[ArchivedMask] = []
        self._headers: list[Dataset] = []
        self._z_of: dict[int, int] = {}
        self._index_of: list[int] = []
        self._lock = threading.Lock()

    # -- loading ------------------------------------------------------------------------
    def load(self, progress: Progress = _quiet) -> xr.DataArray:
        """Retrieve the series (WADO-RS) and build its volume, once."""
        with self._lock:
            return self._load(progress)

    def _load(self, progress: Progress) -> xr.DataArray:
        if self.volume is not None:
            return self.volume
        total = len({f.sop_uid for f in self.series.frames})
        datasets: list[Dataset] = []
        for k, data in enumerate(self.client.iter_series(self.series.study_uid,
                                                         self.series.series_uid)):
            datasets.append(dcmread(BytesIO(data)))
            progress(f"Loading the series: {k + 1} of {total} images")
        progress("Building the volume...")
        volume = series_volume(datasets)
        z_of = {(str(u), int(f)): z for z, (u, f) in enumerate(zip(
            volume.coords["sop_instance_uid"].values, volume.coords["frame"].values,
            strict=True))}
        index_of = [0] * len(z_of)
        try:
            for index, frame in enumerate(self.series.frames):
                z = z_of[(frame.sop_uid, frame.number)]
                self._z_of[index] = z
                index_of[z] = index
        except KeyError as exc:
            raise ValueError(f"image {exc} of the viewer is not in the series' volume") from None
        for ds in datasets:   # the SEG needs the headers only
            del ds.PixelData
        self._headers, self._index_of, self.volume = datasets, index_of, volume
        return volume

    def load_stored(self, progress: Progress = _quiet) -> list[ArchivedMask]:
        """Read this series' segments of the study's stored SEGs onto its volume into
        ``masks`` (QIDO-RS, then WADO-RS). The volume is loaded only when the study
        holds a SEG at all."""
        with self._lock:
            if not find_segmentations(self.client, self.series.study_uid):
                self.masks = []
                return []
            progress("Reading the stored segmentations...")
            volume = self._load(progress)
            self.masks = read_archived_masks(self.client, self.series.study_uid, volume)
            return self.masks

    # -- growing and editing --------------------------------------------------------------
    def grow(self, index: int, row: int, col: int, bounds: Bounds, *,
             tolerance: float | None = None, progress: Progress = _quiet
             ) -> tuple[VolumeStatistics | None, Bounds]:
        """Grow the region from pixel ``(row, col)`` of displayed image `index`.

        Parameters
        ----------
        index, row, col
            The seed: display index and pixel, zero-based.
        bounds
            ``(lower, upper)``, inclusive, in the volume's units; None is open.
        tolerance
            If given, the bounds are the seed's value minus and plus it instead.

        Returns
        -------
        tuple
            The region's measurements and the bounds used.
        """
        with self._lock:
            volume = self._load(progress)
            voxel = self.voxel(index, row, col)
            value = float(volume.values[voxel])
            if not math.isfinite(value):
                raise ValueError(f"the seed ({row}, {col}) on image {index + 1} is padding")
            if tolerance is not None:
                bounds = (value - tolerance, value + tolerance)
            progress(f"Growing the region from {value:g} {self.series.units}".rstrip() + "...")
            mask = region_grow(volume, [self.mm(voxel)], *bounds)
            return self._measure(mask, progress), bounds

    def paint(self, index: int, points: Sequence[Sequence[float]], radius_mm: float, *,
              erase: bool = False, progress: Progress = _quiet) -> VolumeStatistics | None:
        """Paint (or erase) discs of `radius_mm` along a stroke on displayed image `index`
        (:func:`~workbench.measure.segment.brush_stroke` in that slice, at
        :meth:`stroke_centres`); the edited mask's measurements, None once it is empty.
        Painting without a region starts one."""
        with self._lock:
            volume = self._load(progress)
            if not points:
                raise ValueError("a brush stroke needs at least one point")
            mask = self.mask if self.mask is not None else xr.zeros_like(volume, dtype=bool)
            centres = self.stroke_centres(index, points, radius_mm)
            progress("Painting...")
            mask = brush_stroke(mask, centres, radius_mm, erase=erase, in_plane=True)
            return self._measure(mask, progress)

    def use_stored(self, number: int) -> VolumeStatistics | None:
        """Make stored segment `number` (an index into ``masks``) the region."""
        with self._lock:
            if not 0 <= number < len(self.masks):
                raise ValueError(f"there is no stored segment {number + 1}")
            return self._measure(self.masks[number].mask, _quiet)

    def _measure(self, mask: xr.DataArray, progress: Progress) -> VolumeStatistics | None:
        assert self.volume is not None
        self.mask = mask.astype(bool)
        if not bool(self.mask.values.any()):
            return None
        progress("Measuring...")
        return measure_volume(self.volume, self.mask)

    def save(self, label: str, bounds: Bounds) -> str:
        """Store the region as a binary DICOM SEG (STOW-RS); what was stored, as text.

        The SEG is SEMIAUTOMATIC, with `bounds` in the algorithm's name; it is added to
        ``masks``.
        """
        with self._lock:
            if self.mask is None or not bool(self.mask.values.any()):
                raise ValueError("there is no region to save: click a seed first")
            label = label.strip() or "region"
            span = "..".join("open" if v is None else f"{v:g}" for v in bounds)
            seg = segmentation(self.mask, self._headers, label=label,
                               algorithm_name=f"workbench region growing {span}",
                               series_description=f"Segmentation {label}"[:64])
            stored = store_segmentation(self.client, seg)
            count = int(self.mask.values.sum())
            label = str(seg.SegmentSequence[0].SegmentLabel)
            self.masks = [*self.masks, ArchivedMask(stored, 1, label, self.mask.copy())]
        return (f"Stored SEG '{label}' ({count} voxels) as {stored.sop_instance_uid} "
                f"in series {stored.series_uid}")

    # -- geometry and display ---------------------------------------------------------------
    def voxel(self, index: int, row: int, col: int) -> tuple[int, int, int]:
        """``(z, y, x)`` of pixel ``(row, col)`` of displayed image `index` (loaded volume)."""
        if self.volume is None:
            raise ValueError("the series' volume is not loaded yet")
        if index not in self._z_of:
            raise ValueError(f"image {index} is not in the series ({len(self._z_of)} images)")
        _, rows, columns = self.volume.shape
        if not (0 <= row < rows and 0 <= col < columns):
            raise ValueError(f"pixel ({row}, {col}) lies outside the {rows} x {columns} image")
        return self._z_of[index], row, col

    def mm(self, zyx: Sequence[float]) -> tuple[float, float, float]:
        """Patient LPS mm of a (continuous) ``(z, y, x)`` voxel position."""
        if self.volume is None:
            raise ValueError("the series' volume is not loaded yet")
        matrix = np.asarray(self.volume.attrs["affine"], dtype=np.float64)
        x, y, z = (matrix @ np.array([zyx[2], zyx[1], zyx[0], 1.0]))[:3]
        return float(x), float(y), float(z)

    def stroke_centres(self, index: int, points: Sequence[Sequence[float]], radius_mm: float
                       ) -> list[tuple[float, float, float]]:
        """Brush centres (LPS mm) along a stroke on displayed image `index`: the points
        ``(row, col)``, clamped to the image, and between them steps of at most a
        quarter of the radius (the volume must be loaded)."""
        z, _, _ = self.voxel(index, 0, 0)
        assert self.volume is not None
        _, rows, columns = self.volume.shape
        spacing = np.asarray(self.volume.attrs["spacing"], dtype=np.float64)[1:]
        pixels = [(min(max(float(r), 0.0), rows - 1.0), min(max(float(c), 0.0), columns - 1.0))
                  for r, c in points]
        centres = pixels[:1]
        for a, b in zip(pixels, pixels[1:], strict=False):
            length = float(np.hypot(*(np.subtract(b, a) * spacing)))
            steps = max(1, math.ceil(length / (radius_mm / 4)))
            centres += [(a[0] + (b[0] - a[0]) * t / steps, a[1] + (b[1] - a[1]) * t / steps)
                        for t in range(1, steps + 1)]
        return [self.mm((z, r, c)) for r, c in centres]

    def overlay(self) -> dict[str, object]:
        """The mask for the browser: ``{"rows", "columns", "voxels", "slices"}`` (see
        :func:`mask_overlay`); no slices without a mask."""
        if self.mask is None:
            return {"voxels": 0, "slices": {}}
        values = np.asarray(self.mask.values)
        return {"rows": int(values.shape[1]), "columns": int(values.shape[2]),
                "voxels": int(values.sum()), "slices": mask_overlay(values, self._index_of)}
