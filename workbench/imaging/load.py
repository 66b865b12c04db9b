"""One entry point from datasets to the right kind of DataArray.

* several images of a series, an enhanced multi-frame image whose frames lie at
  different positions, an NM tomographic reconstruction, or one cross-sectional
  slice: a volume, dims ``("z", "y", "x")``
  (:func:`~workbench.imaging.volume.series_volume`);
* any other multi-frame image (US, XA cine, planar NM dynamics, a single-slice
  cardiac MR loop): ``("frame", "y", "x"[, "rgb"])``
  (:func:`~workbench.imaging.cine.cine_array`);
* any other single image (CR, DX, MG, a US still): ``("y", "x"[, "rgb"])``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from pydicom.dataset import Dataset

from workbench.dicom.frames import number_of_frames
from workbench.errors import MissingAttributeError
from workbench.imaging.cine import cine_array
from workbench.imaging.planes import plane_geometry
from workbench.imaging.volume import series_volume

__all__ = ["load_dataarray"]


def load_dataarray(datasets: Dataset | Sequence[Dataset]) -> xr.DataArray:
    """Return the images of one series as a volume, a loop or one image (see module).

    Raises
    ------
    ValueError
        Several datasets that do not form one volume (the message names the
        attribute), or an empty sequence.
    InvalidDicomError, UnsupportedTransferSyntaxError
        Pixel data that cannot be decoded.
    """
    items = [datasets] if isinstance(datasets, Dataset) else list(datasets)
    if len(items) != 1:
        return series_volume(items)
    ds = items[0]
    count = number_of_frames(ds)
    if _is_slice_stack(ds, count):
        return series_volume(ds)
    loop = cine_array(ds)
    return loop if count > 1 else loop.isel(frame=0)


def _is_slice_stack(ds: Dataset, count: int) -> bool:
    """Whether every frame has a plane and they do not all lie in one plane."""
    if str(ds.get("PhotometricInterpretation", "")) not in ("MONOCHROME1", "MONOCHROME2"):
        return False
    try:
        planes = [plane_geometry(ds, frame) for frame in range(1, count + 1)]
    except (MissingAttributeError, ValueError):
        return False
    if count == 1:
        return True
    normal = np.asarray(planes[0].normal)
    distances = [float(np.asarray(p.origin) @ normal) for p in planes]
    return max(distances) - min(distances) > 0.01
