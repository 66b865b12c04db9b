"""Values of the synthetic generators (internal): UIDs, DS strings, dates, checks.

Everything here is deterministic: UIDs are hashes of their context, dates and
times come from parameters, never from the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydicom.uid import UID, generate_uid


def make_uid(*parts: object) -> UID:
    """Return a UID that is a hash of `parts` (same parts, same UID).

    Parameters
    ----------
    *parts
        Anything with a stable ``str``; joined with ``|`` so that
        ``("1", "23")`` and ``("12", "3")`` differ.

    Returns
    -------
    UID
        A UID under the pydicom root, at most 64 characters.
    """
    return generate_uid(entropy_srcs=["workbench-demo|" + "|".join(str(p) for p in parts)])


def ds_str(value: float) -> str:
    """Format a number as a valid DS string (at most 16 characters).

    Parameters
    ----------
    value
        The number.

    Returns
    -------
    str
        The shortest of a few ``g`` formats that fits.
    """
    for digits in (10, 8, 6, 4):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return "0" if text == "-0" else text
    raise ValueError(f"cannot format {value!r} as DS")


def ds_list(values: Sequence[float]) -> list[str]:
    """Format several numbers as DS strings (see :func:`ds_str`)."""
    return [ds_str(v) for v in values]


def half_extent(spacing: float, count: int) -> float:
    """Return the distance from the first to the middle of `count` points `spacing` apart."""
    return spacing * (count - 1) / 2


def shift_date(yyyymmdd: str, days: int) -> str:
    """Return the DA `days` after `yyyymmdd` (negative: before)."""
    parsed = datetime.strptime(yyyymmdd, "%Y%m%d").date()
    return (parsed + timedelta(days=days)).strftime("%Y%m%d")


def add_seconds(hhmmss: str, seconds: float) -> str:
    """Return the TM `seconds` after `hhmmss` (negative: before), clamped to that day."""
    base = datetime.strptime(hhmmss[:6], "%H%M%S")
    later = base + timedelta(seconds=seconds)
    if later.date() > base.date():
        return "235959"
    if later.date() < base.date():
        return "000000"
    return later.strftime("%H%M%S")


def age_string(birth_date: str, on_date: str) -> str:
    """Return Patient's Age (AS, e.g. ``"061Y"``) at `on_date`."""
    born = datetime.strptime(birth_date, "%Y%m%d").date()
    when = datetime.strptime(on_date, "%Y%m%d").date()
    years = when.year - born.year - ((when.month, when.day) < (born.month, born.day))
    return f"{max(0, min(years, 999)):03d}Y"


def check_date(value: str, keyword: str = "StudyDate") -> str:
    """Validate a DA parameter (``YYYYMMDD``) and return it."""
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError(value)
        datetime.strptime(value, "%Y%m%d")
    except ValueError as exc:
        raise ValueError(f"{keyword} must be YYYYMMDD, got {value!r}") from exc
    return value


def check_size(name: str, value: int, low: int = 1, high: int = 65535) -> int:
    """Raise ValueError unless ``low <= value <= high``; return `value`."""
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def check_image(count_name: str, count: int, high: int, rows: int, columns: int, side: int) -> None:
    """Check a stack or loop: 1 to `high` images of at least ``side x side`` pixels."""
    check_size(count_name, count, 1, high)
    check_size("Rows", rows, side)
    check_size("Columns", columns, side)
