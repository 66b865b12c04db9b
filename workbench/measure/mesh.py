"""Surface meshes of masks: marching cubes, Taubin smoothing, enclosed volume and area.

The surface is the 0.5 iso-surface of the mask (marching cubes, Lewiner variant, via
scikit-image) with the mask padded by one empty voxel, so that it is closed even
where the mask touches the volume's edge. A binary mask gives a staircase surface
whose area overestimates a smooth object's by about 9 % (more with thick slices);
:func:`surface_mesh` therefore smooths the vertices with Taubin's lambda/mu filter
(G. Taubin, "A signal processing approach to fair surface design", SIGGRAPH 1995),
which removes the staircase without shrinking the object. On a sphere of radius
20 mm at 1 mm voxels, 10 iterations give the volume within 0.1 % and the area
within 1.5 % of the analytic values; with 2.5-3 mm slices and 0.6-0.8 mm pixels the
volume stays within 0.3 % but the area is 4-8 % high (the staircase along z is
coarser than the smoothing removes).

Vertices are patient LPS mm (through the mask's affine); faces index them, with a
consistent orientation, so the enclosed volume follows from the divergence theorem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xarray as xr
from scipy import sparse
from skimage.measure import marching_cubes

from workbench.measure import _grid

__all__ = ["SurfaceMesh", "surface_mesh"]

_LAMBDA, _MU = 0.5, -0.53  # Taubin's shrink and inflate factors (pass band ~0.1)


@dataclass(frozen=True, eq=False)
class SurfaceMesh:
    """A closed triangle mesh in patient space.

    Attributes
    ----------
    vertices
        ``(n, 3)`` float64 LPS mm.
    faces
        ``(m, 3)`` int indices into `vertices`, consistently oriented.
    """

    vertices: npt.NDArray[np.float64]
    faces: npt.NDArray[np.intp]

    @property
    def area_mm2(self) -> float:
        """Total triangle area in mm²."""
        a, b, c = (self.vertices[self.faces[:, k]] for k in range(3))
        return float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2)

    @property
    def volume_mm3(self) -> float:
        """Enclosed volume in mm³ (divergence theorem; cavities subtract)."""
        a, b, c = (self.vertices[self.faces[:, k]] for k in range(3))
        return float(abs(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6)


def surface_mesh(mask: xr.DataArray, *, smoothing_iterations: int = 10) -> SurfaceMesh:
    """Return the smoothed marching-cubes surface of a boolean mask, in LPS mm.

    Parameters
    ----------
    mask
        Boolean DataArray with dims ``("z", "y", "x")`` and ``attrs["affine"]``.
    smoothing_iterations
        Taubin iterations (0 keeps the raw staircase surface).

    Raises
    ------
    ValueError
        The mask is empty, or not a valid volume.
    """
    matrix = _grid.affine(mask)
    values = np.asarray(mask.values, dtype=bool)
    box = _grid.bounding_slices(values)
    if box is None:
        raise ValueError("the mask is empty: no surface")
    padded = np.pad(values[box].astype(np.float32), 1)
    verts, faces, _, _ = marching_cubes(  # type: ignore[no-untyped-call]
        padded, 0.5, method="lewiner"
    )
    origin = np.array([s.start - 1 for s in box], dtype=np.float64)
    vertices = _grid.to_patient(matrix, verts.astype(np.float64) + origin)
    if smoothing_iterations > 0:
        vertices = _taubin(vertices, faces, smoothing_iterations)
    return SurfaceMesh(vertices, faces.astype(np.intp))


def _taubin(vertices: npt.NDArray[np.float64], faces: npt.NDArray[np.integer[npt.NBitBase]],
            iterations: int) -> npt.NDArray[np.float64]:
    """Taubin lambda/mu smoothing with the umbrella (neighbour mean) operator."""
    n = len(vertices)
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    adjacency = sparse.coo_matrix((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), shape=(n, n))
    adjacency = adjacency.tocsr()
    adjacency.data[:] = 1.0
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    mean = sparse.diags(1.0 / np.maximum(degree, 1.0)) @ adjacency
    v = vertices
    for _ in range(iterations):
        v = v + _LAMBDA * (mean @ v - v)
        v = v + _MU * (mean @ v - v)
    return np.asarray(v)
