"""What the viewers show of one series: :class:`SeriesDisplay` and its parts.

Values only (frozen dataclasses); :func:`workbench.viewer.series.describe_series`
builds them from WADO-RS metadata. Display indices are zero-based into
:attr:`SeriesDisplay.frames`; frame numbers in URLs are one-based (WADO-RS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from workbench.imaging.geometry import VolumeGeometry
from workbench.imaging.planes import PixelSpacing
from workbench.imaging.presets import WindowPreset
from workbench.viewer.labels import Markers
from workbench.viewer.mpr import ReformatPlane

__all__ = ["Frame", "PixelFormat", "SeriesDisplay", "SeriesKind"]

_BROWSER_GREY = frozenset({"MONOCHROME1", "MONOCHROME2"})
_BROWSER_COLOUR = frozenset({"RGB", "YBR_FULL"})


class SeriesKind(StrEnum):
    """Which viewer opens a series."""

    IMAGE = "image"
    """Static images and stacks (CT, MR, CR, ...): the slice viewer."""
    CINE = "cine"
    """Multi-frame loops with frame times (US, XA): the cine viewer."""
    WAVEFORM = "waveform"
    """ECG and other waveforms: the waveform viewer."""
    PDF = "pdf"
    """Encapsulated PDF: shown inline."""
    DOCUMENT = "document"
    """Other encapsulated documents (CDA, STL, ...): offered for download."""
    OTHER = "other"
    """Anything else (SR, presentation states): listed, not displayed."""


@dataclass(frozen=True)
class PixelFormat:
    """How the stored pixels of a frame are laid out (Image Pixel module, PS3.3 C.7.6.3).

    Attributes
    ----------
    rows, columns
        Frame size.
    samples
        Samples per Pixel (1 grey, 3 colour).
    photometric
        Photometric Interpretation of the native frames the archive sends.
    bits_allocated, bits_stored, pixel_representation
        As in the header; ``pixel_representation`` 1 means two's complement.
    planar
        Planar Configuration (0 colour-by-pixel, 1 colour-by-plane).
    floating
        32-bit IEEE floats (pixels sent by a notebook's kernel) rather than integers.
    """

    rows: int
    columns: int
    samples: int = 1
    photometric: str = "MONOCHROME2"
    bits_allocated: int = 16
    bits_stored: int = 16
    pixel_representation: int = 0
    planar: int = 0
    floating: bool = False

    @property
    def browser_decodes(self) -> bool:
        """Whether the browser windows the raw frames itself (else it shows the
        archive's rendered frames): 8/16/32-bit grey, 8-bit RGB or YBR_FULL."""
        if self.samples == 1:
            return self.photometric in _BROWSER_GREY and self.bits_allocated in (8, 16, 32)
        return (self.samples == 3 and self.photometric in _BROWSER_COLOUR
                and self.bits_allocated == 8)


@dataclass(frozen=True)
class Frame:
    """One displayed image: frame `number` (one-based) of instance `sop_uid`.

    Attributes
    ----------
    format
        Index into :attr:`SeriesDisplay.formats`.
    slope, intercept
        Modality rescale of the frame (PS3.3 C.11.1).
    location
        Position along the slice normal in mm (LPS), when the frame has an image plane.
    """

    sop_uid: str
    number: int
    format: int = 0
    slope: float = 1.0
    intercept: float = 0.0
    location: float | None = None


@dataclass(frozen=True)
class SeriesDisplay:
    """One series as the viewers show it (see the module docstring).

    Attributes
    ----------
    frames
        In display order; the slice index of the viewers is an index into this.
    window
        The initial window: the dataset's first one, else ``None`` (the browser then
        picks one from the pixels, as :func:`workbench.imaging.lut.auto_window`).
    frame_times
        Start of each frame in ms after the first (cine), else ``None``.
    bulkdata
        BulkDataURI of the Encapsulated Document (PDF and other documents).
    mime_type
        MIME Type of Encapsulated Document (0042,0012).
    planes
        The reformatted planes the browser can cut from the stack (empty unless the
        frames form a regular volume aligned with the patient axes).
    source
        Where the browser gets the pixels: ``"archive"`` (WADO-RS) or ``"kernel"``
        (the Python process, for a notebook's own arrays).
    geometry
        The volume the frames stack to (slices in display order), if they do.
    """

    study_uid: str
    series_uid: str
    modality: str
    kind: SeriesKind
    description: str = ""
    number: int | None = None
    frames: tuple[Frame, ...] = ()
    formats: tuple[PixelFormat, ...] = ()
    presets: tuple[WindowPreset, ...] = ()
    window: WindowPreset | None = None
    units: str = ""
    spacing: PixelSpacing = PixelSpacing(1.0, 1.0, "none")
    slice_thickness: float | None = None
    frame_times: tuple[float, ...] | None = None
    frame_time_source: str = "none"
    markers: Markers = Markers()
    overlay: Mapping[str, list[str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    bulkdata: str | None = None
    mime_type: str = ""
    planes: Mapping[str, ReformatPlane] = field(default_factory=dict)
    source: str = "archive"
    geometry: VolumeGeometry | None = None

    @property
    def fps(self) -> float | None:
        """Acquisition frame rate: 1000 / median frame interval (ms); ``None`` without
        frame times."""
        if not self.frame_times or len(self.frame_times) < 2:
            return None
        steps = np.diff(np.asarray(self.frame_times))
        step = float(np.median(steps))
        return 1000.0 / step if step > 0 else None

    def frame_url(self, index: int, root: str = "/dicom-web") -> str:
        """WADO-RS URL of the native pixels of frame `index` (zero-based display order)."""
        frame = self.frames[index]
        return (f"{root}/studies/{self.study_uid}/series/{self.series_uid}/instances/"
                f"{frame.sop_uid}/frames/{frame.number}")

    def to_js(self, root: str = "/dicom-web") -> dict[str, Any]:
        """Describe the series for the browser's image component (JSON-ready).

        Parameters
        ----------
        root
            The DICOMweb root as the browser reaches it (same origin by default).
        """
        window = self.window
        kernel = self.source == "kernel"
        return {
            "key": f"{self.series_uid}:{len(self.frames)}",
            "kernel": kernel,
            "frames": [{"url": "" if kernel else self.frame_url(k, root), "f": f.format,
                        "slope": f.slope,
                        "intercept": f.intercept, "location": f.location}
                       for k, f in enumerate(self.frames)],
            "formats": [{"rows": p.rows, "columns": p.columns, "samples": p.samples,
                         "photometric": p.photometric, "bitsAllocated": p.bits_allocated,
                         "bitsStored": p.bits_stored,
                         "signed": p.pixel_representation == 1, "planar": p.planar,
                         "float": p.floating, "native": p.browser_decodes}
                        for p in self.formats],
            "window": None if window is None else [window.center, window.width,
                                                   window.function],
            "units": self.units,
            "spacing": [self.spacing.row, self.spacing.column,
                        self.spacing.source if self.spacing.calibrated else ""],
            "thickness": self.slice_thickness,
            "frameTimes": list(self.frame_times) if self.frame_times else None,
            "markers": {"left": self.markers.left, "right": self.markers.right,
                        "top": self.markers.top, "bottom": self.markers.bottom},
            "overlay": dict(self.overlay),
            "planes": {name: plane.to_js() for name, plane in self.planes.items()},
        }
