"""Image modules shared by the synthetic image generators (internal).

Image Pixel, Multi-frame, Frame of Reference, the plane geometry of axial images and
the content timing of General Image; plus :class:`Template` for fast per-slice copies.
"""

from __future__ import annotations

import pickle

from pydicom.dataset import Dataset
from pydicom.tag import Tag

from workbench.demo._base import ds_list, ds_str, half_extent, make_uid

AXIAL = ("1", "0", "0", "0", "1", "0")
"""Image Orientation (Patient) of an axial image: rows run left, columns posterior."""


def pixel_module(
    ds: Dataset,
    *,
    rows: int,
    columns: int,
    bits_allocated: int,
    bits_stored: int,
    signed: bool = False,
    photometric: str = "MONOCHROME2",
) -> None:
    """Set the Image Pixel module attributes except Pixel Data."""
    samples = 3 if photometric == "RGB" else 1
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = 0
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0


def multi_frame(ds: Dataset, n_frames: int, increment: str) -> None:
    """Set the Multi-frame module: `n_frames` frames that step through keyword `increment`."""
    ds.NumberOfFrames = n_frames
    ds.FrameIncrementPointer = Tag(increment)


def content_timing(ds: Dataset, *, datetime: bool) -> None:
    """Date the content and the acquisition at the series start.

    Acquisition Date Time (DT) when `datetime`, else Acquisition Date and Time.
    """
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.SeriesTime
    if datetime:
        ds.AcquisitionDateTime = ds.StudyDate + ds.SeriesTime
    else:
        ds.AcquisitionDate = ds.StudyDate
        ds.AcquisitionTime = ds.SeriesTime


def uncompressed(ds: Dataset, *, annotation: bool = True) -> None:
    """Declare the pixels never lossy compressed and (`annotation`) free of burned-in text."""
    ds.LossyImageCompression = "00"
    if annotation:
        ds.BurnedInAnnotation = "NO"


def frame_of_reference(ds: Dataset) -> None:
    """Set a Frame of Reference of the series' own (a hash of its UID), no reference point."""
    ds.FrameOfReferenceUID = make_uid("for", ds.SeriesInstanceUID)
    ds.PositionReferenceIndicator = ""


def voxel_size(ds: Dataset, pixel_spacing: float, thickness: float, spacing: float) -> None:
    """Set Pixel Spacing (square pixels), Slice Thickness and Spacing Between Slices."""
    ds.PixelSpacing = ds_list([pixel_spacing, pixel_spacing])
    ds.SliceThickness = ds_str(thickness)
    ds.SpacingBetweenSlices = ds_str(spacing)


def centred_position(pixel_spacing: float, rows: int, columns: int, z: float) -> list[str]:
    """Return Image Position (Patient) of an axial image centred on the z axis at `z`."""
    x0 = -half_extent(pixel_spacing, columns)
    y0 = -half_extent(pixel_spacing, rows)
    return ds_list([x0, y0, z])


class Template:
    """A dataset frozen as a pickle; :meth:`new` returns independent copies fast.

    Unpickling is several times faster than ``copy.deepcopy`` of a Dataset, which matters
    when a thousand slices share seventy attributes.

    Parameters
    ----------
    ds
        The attributes common to every instance of a series.
    """

    def __init__(self, ds: Dataset) -> None:
        self._blob = pickle.dumps(ds, protocol=pickle.HIGHEST_PROTOCOL)

    def new(self) -> Dataset:
        """Return a fresh deep copy of the template."""
        ds = pickle.loads(self._blob)
        assert isinstance(ds, Dataset)
        return ds
