"""A DICOM Segmentation read on its own geometry, without its source images.

:func:`workbench.measure.seg.read_segmentation` puts a segment onto a volume of the
SEG's source images. When those images are not at hand (a SEG from elsewhere, the
corpus), :func:`segment_mask` builds the mask from the SEG's own Plane Position and
Plane Orientation (Patient) and Pixel Measures (PS3.3 C.7.6.16.2), through highdicom's
``Segmentation.get_volume``: frames sorted along the slice normal, missing positions of
a regular stack filled with empty slices.

The result follows :mod:`workbench.measure._grid`: a boolean DataArray with dims
``("z", "y", "x")``, coordinates in mm from the first voxel, and ``attrs["affine"]``
mapping ``(x=col, y=row, z=slice, 1)`` to patient LPS mm, so that
:func:`~workbench.measure.volume.measure_volume` measures it (on the mask itself as the
volume, or on a volume resampled to that grid).
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
import xarray as xr
from pydicom.dataset import Dataset

from workbench.measure.seg import _segment_number, segment_labels

__all__ = ["segment_mask"]


def segment_mask(seg: Dataset, *, segment: int | str | None = None) -> xr.DataArray:
    """Return one segment of `seg` as a boolean mask on the SEG's own voxel grid.

    Parameters
    ----------
    seg
        A DICOM Segmentation (binary, fractional or label map); fractional values
        above one half count as inside; in a label map, the pixels holding the
        segment's number.
    segment
        Segment Number or Segment Label; may be omitted when there is one segment.

    Returns
    -------
    xarray.DataArray
        Boolean, dims ``("z", "y", "x")``, named after the Segment Label, with
        ``attrs["affine"]``, ``attrs["spacing"]`` ``(dz, dy, dx)`` mm,
        ``attrs["frame_of_reference_uid"]``, ``attrs["segment_number"]`` and
        ``attrs["sop_instance_uid"]`` (of the SEG).

    Raises
    ------
    ValueError
        `seg` is not a Segmentation, the segment is not found (or not named when there
        are several), or its frames do not form a regularly spaced stack of parallel
        planes.

    Examples
    --------
    >>> from workbench.demo import DEMO_PATIENTS, ct_series
    >>> from workbench.imaging.volume import series_volume
    >>> from workbench.measure.seg import segmentation
    >>> from workbench.measure.segment import threshold
    >>> slices = ct_series(DEMO_PATIENTS[0], seed=1, n_slices=3, rows=16, columns=16)
    >>> mask = threshold(series_volume(slices), lower=0)
    >>> back = segment_mask(segmentation(mask, slices, label="soft tissue"))
    >>> back.dims, int(back.sum()) == int(mask.sum())
    (('z', 'y', 'x'), True)
    """
    labels = segment_labels(seg)
    number = _segment_number(labels, segment)
    document = hd.seg.Segmentation.from_dataset(seg, copy=True)
    labelmap = str(seg.get("SegmentationType", "")) == "LABELMAP"
    try:
        if labelmap:  # one label per pixel; 0 may be a described (background) segment
            volume = document.get_volume(combine_segments=True, dtype=np.uint16)
        else:
            volume = document.get_volume(segment_numbers=[number], combine_segments=False,
                                         rescale_fractional=True, dtype=np.float32)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"segment {number} of SEG {seg.get('SOPInstanceUID', '?')} does "
                         f"not form a regular stack of planes: {exc}") from None
    values = np.asarray(volume.array)
    if values.ndim == 4:
        values = values[..., 0]
    inside = values == number if labelmap else values > 0.5
    # highdicom's affine maps (slice, row, column) indices; ours (column, row, slice)
    matrix = np.asarray(volume.affine, dtype=np.float64)[:, [2, 1, 0, 3]]
    spacing = np.linalg.norm(matrix[:3, :3], axis=0)
    coords = {axis: np.arange(n) * float(spacing[k])
              for axis, n, k in zip(("z", "y", "x"), values.shape, (2, 1, 0), strict=True)}
    attrs = {
        "affine": matrix.tolist(),
        "spacing": (float(spacing[2]), float(spacing[1]), float(spacing[0])),
        "frame_of_reference_uid": str(seg.get("FrameOfReferenceUID", "")),
        "segment_number": number,
        "sop_instance_uid": str(seg.get("SOPInstanceUID", "")),
    }
    return xr.DataArray(inside, dims=("z", "y", "x"), coords=coords,
                        name=labels[number] or f"segment {number}", attrs=attrs)
