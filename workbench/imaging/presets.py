"""Window presets: the usual VOI windows per modality, and the ones a dataset carries.

Centres and widths are in modality LUT output units (HU for CT) and are applied with
:func:`workbench.imaging.lut.apply_window` (PS3.3 C.11.2.1.2). The CT values are the
customary radiology settings (level / width); modalities without calibrated units
(MR, US, XA, NM) have no fixed presets: use the dataset's windows or
:func:`~workbench.imaging.lut.auto_window`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from workbench.imaging._dataset import functional_group
from workbench.imaging.lut import apply_window, normalize_voi_function

__all__ = ["CT_PRESETS", "WindowPreset", "dataset_presets", "presets_for"]


@dataclass(frozen=True)
class WindowPreset:
    """A named VOI window.

    Attributes
    ----------
    name
        Display name (``"lung"``, or the dataset's Window Center & Width Explanation).
    center, width
        In modality output units.
    function
        VOI LUT Function: LINEAR, LINEAR_EXACT or SIGMOID.
    """

    name: str
    center: float
    width: float
    function: str = "LINEAR"

    def __post_init__(self) -> None:
        function = normalize_voi_function(self.function)
        apply_window([0.0], self.center, self.width, function)  # validates the width
        object.__setattr__(self, "function", function)


CT_PRESETS: tuple[WindowPreset, ...] = (
    WindowPreset("brain", 40, 80),
    WindowPreset("subdural", 75, 215),
    WindowPreset("stroke", 40, 40),
    WindowPreset("temporal bone", 600, 2800),
    WindowPreset("soft tissue", 50, 400),
    WindowPreset("abdomen", 40, 400),
    WindowPreset("liver", 60, 150),
    WindowPreset("mediastinum", 50, 350),
    WindowPreset("lung", -600, 1500),
    WindowPreset("bone", 400, 1800),
)
"""CT windows (level, width in HU)."""

_PRESETS: dict[str, tuple[WindowPreset, ...]] = {"CT": CT_PRESETS}


def presets_for(modality: str) -> tuple[WindowPreset, ...]:
    """Return the fixed presets of `modality` (``"CT"``; empty for the others)."""
    return _PRESETS.get(modality.strip().upper(), ())


def dataset_presets(ds: Dataset, frame: int = 1) -> tuple[WindowPreset, ...]:
    """Return every window the dataset offers for frame `frame` (one-based).

    Window Center / Width (0028,1050-1051) are multi-valued, one pair per window,
    named by (0028,1055) Window Center & Width Explanation (PS3.3 C.11.2.1.2). The
    frame's Frame VOI LUT Sequence (per-frame, then shared functional groups) wins
    over the top-level values. Unnamed windows are called ``"window 1"``, ... and
    windows invalid for their function are skipped; an unknown VOI LUT Function
    counts as LINEAR, as in :func:`~workbench.imaging.lut.window_from_dataset`.
    """
    source = functional_group(ds, frame, "FrameVOILUTSequence")
    if source is None or "WindowCenter" not in source:
        source = ds
    centers, widths = _values(source.get("WindowCenter")), _values(source.get("WindowWidth"))
    names = _values(source.get("WindowCenterWidthExplanation"))
    try:
        function = normalize_voi_function(str(source.get("VOILUTFunction") or "LINEAR"))
    except ValueError:
        function = "LINEAR"
    out: list[WindowPreset] = []
    for k, (center, width) in enumerate(zip(centers, widths, strict=False)):
        name = str(names[k]) if k < len(names) and str(names[k]).strip() else f"window {k + 1}"
        try:
            out.append(WindowPreset(name.strip(), float(center), float(width), function))
        except (TypeError, ValueError):
            continue
    return tuple(out)


def _values(value: object) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, MultiValue | list | tuple):
        return list(value)
    return [value]
