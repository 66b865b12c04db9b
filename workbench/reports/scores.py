"""The 17-segment model of the left ventricle and its summed perfusion scores.

Segments follow the AHA/ASNC standard model (Cerqueira et al., Circulation 2002):
1-6 basal, 7-12 mid-cavity, 13-16 apical, 17 apex. Each segment is scored 0 (normal),
1 (mildly reduced), 2 (moderately reduced), 3 (severely reduced) or 4 (absent uptake).

- SSS, the summed stress score, adds the 17 stress scores; SRS adds the rest scores.
- SDS, the summed difference score, is ``SSS - SRS``.
- As a percentage of the maximum (17 x 4 = 68): ``percent = score / 68 * 100``
  (the "% myocardium" of the ASNC reporting guideline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_SCORE", "SEGMENTS", "TERRITORIES", "SegmentScores", "summed_scores"]

SEGMENTS: tuple[str, ...] = (
    "basal anterior", "basal anteroseptal", "basal inferoseptal", "basal inferior",
    "basal inferolateral", "basal anterolateral",
    "mid anterior", "mid anteroseptal", "mid inferoseptal", "mid inferior",
    "mid inferolateral", "mid anterolateral",
    "apical anterior", "apical septal", "apical inferior", "apical lateral", "apex",
)
"""Names of segments 1-17 (index 0 is segment 1)."""

TERRITORIES: dict[str, tuple[int, ...]] = {
    "LAD": (1, 2, 7, 8, 13, 14, 17),
    "RCA": (3, 4, 9, 10, 15),
    "LCX": (5, 6, 11, 12, 16),
}
"""Usual coronary territory of each segment (one-based numbers)."""

MAX_SCORE = 4 * len(SEGMENTS)


def _scores(name: str, values: Sequence[int]) -> tuple[int, ...]:
    if len(values) != len(SEGMENTS):
        raise ValueError(f"{name} scores need {len(SEGMENTS)} values (segments 1-17), "
                         f"got {len(values)}")
    out = []
    for number, value in enumerate(values, start=1):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4:
            raise ValueError(f"{name} score of segment {number} must be an integer 0-4, "
                             f"got {value!r}")
        out.append(value)
    return tuple(out)


@dataclass(frozen=True)
class SegmentScores:
    """Stress and (optionally) rest scores of the 17 segments, and their sums.

    Attributes
    ----------
    stress, rest
        17 integer scores 0-4 each, segment 1 first; ``rest`` is None for a
        stress-only study.
    """

    stress: tuple[int, ...]
    rest: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stress", _scores("stress", self.stress))
        if self.rest is not None:
            object.__setattr__(self, "rest", _scores("rest", self.rest))

    @property
    def sss(self) -> int:
        """Summed stress score."""
        return sum(self.stress)

    @property
    def srs(self) -> int | None:
        """Summed rest score (None without rest scores)."""
        return None if self.rest is None else sum(self.rest)

    @property
    def sds(self) -> int | None:
        """Summed difference score, ``SSS - SRS`` (None without rest scores)."""
        srs = self.srs
        return None if srs is None else self.sss - srs

    def percent(self, score: int | None) -> float | None:
        """`score` as a percentage of the maximum summed score (68)."""
        return None if score is None else round(100.0 * score / MAX_SCORE, 1)

    def abnormal_territories(self) -> list[str]:
        """Territories with a stress score above 0 in any of their segments."""
        return [name for name, segments in TERRITORIES.items()
                if any(self.stress[s - 1] > 0 for s in segments)]

    def summary(self) -> dict[str, int | float | None]:
        """SSS, SRS, SDS and their percentages, as stored with a report."""
        return {"sss": self.sss, "srs": self.srs, "sds": self.sds,
                "sss_percent": self.percent(self.sss),
                "sds_percent": self.percent(self.sds)}


def summed_scores(stress: Sequence[int], rest: Sequence[int] | None = None
                  ) -> dict[str, int | float | None]:
    """Return SSS, SRS, SDS (and percentages) of 17-segment scores.

    Examples
    --------
    >>> stress = [0] * 17
    >>> stress[0], stress[6] = 3, 2
    >>> rest = [0] * 17
    >>> rest[0] = 1
    >>> s = summed_scores(stress, rest)
    >>> s["sss"], s["srs"], s["sds"]
    (5, 1, 4)
    """
    return SegmentScores(tuple(stress), None if rest is None else tuple(rest)).summary()
