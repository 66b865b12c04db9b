"""Reading values out of datasets (internal): functional groups and numbers."""

from __future__ import annotations

import math
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue


def functional_group(ds: Dataset, frame: int, keyword: str) -> Dataset | None:
    """Item 0 of `keyword` in frame `frame`'s (one-based) item of the Per-frame
    Functional Groups Sequence, else in the Shared Functional Groups Sequence (PS3.3
    C.7.6.16); ``None`` when neither has it."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and 1 <= frame <= len(per_frame):
        found = per_frame[frame - 1].get(keyword)
        if found:
            return found[0]  # type: ignore[no-any-return]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        found = shared[0].get(keyword)
        if found:
            return found[0]  # type: ignore[no-any-return]
    return None


def first_float(value: Any) -> float | None:
    """The first value of a number or multi-value as a finite float, else None."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
