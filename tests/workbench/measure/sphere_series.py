"""A CT series of a ball of known radius, as DICOM slices (for the CLI and SEG archive tests).

1 mm pixels and slices; voxels whose centre lies within :data:`RADIUS` mm of
:attr:`SphereSeries.centre` hold :data:`INSIDE_HU`, the others :data:`OUTSIDE_HU`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from tests.synth import make_ct

RADIUS = 20.0
INSIDE_HU, OUTSIDE_HU = 60, -100
_INTERCEPT = -1024  # what workbench.demo's CT slices use


@dataclass
class SphereSeries:
    """The slices, the ball's centre (LPS mm) and the number of voxels inside."""

    slices: list[Dataset]
    centre: tuple[float, float, float]
    inside: int

    @property
    def study_uid(self) -> str:
        return str(self.slices[0].StudyInstanceUID)

    @property
    def seed(self) -> str:
        """The centre as the command line takes it."""
        return ",".join(f"{v:g}" for v in self.centre)


def sphere_series(seed: int = 51, n: int = 50, size: int = 56) -> SphereSeries:
    """Return `n` axial slices of `size` x `size` 1 mm pixels holding the ball."""
    slices = make_ct(n=n, seed=seed, rows=size, columns=size, pixel_spacing=1.0,
                     slice_thickness=1.0)
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in slices])
    # axial slices: x along columns, y along rows; off the voxel grid on purpose
    middle = positions.mean(axis=0) + np.array([(size - 1) / 2, (size - 1) / 2, 0.0])
    centre = middle + np.array([0.3, -0.2, 0.4])
    columns = np.arange(size, dtype=np.float64)
    inside = 0
    for ds, (x0, y0, z) in zip(slices, positions, strict=True):
        xx = x0 + columns[None, :] - centre[0]
        yy = y0 + columns[:, None] - centre[1]
        ball = xx**2 + yy**2 + (z - centre[2]) ** 2 <= RADIUS**2
        inside += int(ball.sum())
        hu = np.where(ball, INSIDE_HU, OUTSIDE_HU)
        ds.PixelData = (hu - _INTERCEPT).astype("<u2").tobytes()
    return SphereSeries(slices, (float(centre[0]), float(centre[1]), float(centre[2])), inside)
