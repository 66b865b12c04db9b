"""Precomputed noise fields from which each image takes a shifted window (internal)."""

from __future__ import annotations

from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["FieldBank", "NoiseBank"]

S = TypeVar("S", bound=np.generic)


class FieldBank(Generic[S]):
    """A stack of fields a little larger than one image; windows of them are handed out.

    Cheaper than fresh noise per image, and still different from image to image.

    Parameters
    ----------
    fields
        ``(count, rows + pad_rows, columns + pad_columns)``.
    shape
        ``(rows, columns)`` of one window.
    """

    def __init__(self, fields: npt.NDArray[S], shape: tuple[int, int]) -> None:
        self.fields = fields
        self.shape = shape

    def _view(self, k: int, dy: int, dx: int) -> npt.NDArray[S]:
        return self.fields[k, dy : dy + self.shape[0], dx : dx + self.shape[1]]

    def window(self, rng: np.random.Generator) -> npt.NDArray[S]:
        """Return a (read-only view) window at a random field and offset."""
        count, height, width = self.fields.shape
        margins = [count, height - self.shape[0], width - self.shape[1]]
        k, dy, dx = (int(x) for x in rng.integers(0, margins))
        return self._view(k, dy, dx)

    def frame(self, index: int, rng: np.random.Generator) -> npt.NDArray[S]:
        """Return the window of frame `index`: fields in turn, at a random offset."""
        _, height, width = self.fields.shape
        dy = int(rng.integers(0, height - self.shape[0]))
        dx = int(rng.integers(0, width - self.shape[1]))
        return self._view(index % len(self.fields), dy, dx)


class NoiseBank(FieldBank[np.int16]):
    """Clipped Gaussian noise, rounded to int16 (see :class:`FieldBank`).

    Parameters
    ----------
    rng
        Random generator.
    shape
        Shape of one window.
    sigma
        Standard deviation.
    limit
        Values are clipped to ``[-limit, limit]``.
    count, pad
        Number of fields and the extra margin that lets windows move.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        shape: tuple[int, int],
        sigma: float,
        limit: float,
        *,
        count: int = 4,
        pad: int = 32,
    ) -> None:
        fields = rng.standard_normal((count, shape[0] + pad, shape[1] + pad), dtype=np.float32)
        fields *= np.float32(sigma)
        np.clip(fields, -limit, limit, out=fields)
        super().__init__(np.rint(fields).astype(np.int16), shape)
        self.pad = pad
