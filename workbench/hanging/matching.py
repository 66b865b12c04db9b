"""Which protocol fits a study, and which series fill its viewports.

Scoring: every rule that holds adds its weight; a required rule that fails excludes the
protocol; the highest score wins (ties: the earlier protocol in the list, so per-user
protocols placed first win over the defaults). Study rules look at study attributes, or,
for series keywords, at any series of the study.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.hanging.schema import HangingProtocol, Rule, SeriesSelector
from workbench.hanging.study import SeriesInfo, StudyInfo


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(value: Any, wanted: Any, operator: str) -> bool:
    text, target = str(value), str(wanted)
    if operator == "equals":
        return text == target
    if operator == "contains":
        return target in text
    if operator == "icontains":
        return target.casefold() in text.casefold()
    if operator == "startsWith":
        return text.startswith(target)
    if operator in ("greater", "less"):
        a, b = _number(value), _number(wanted)
        if a is None or b is None:
            return text > target if operator == "greater" else text < target
        return a > b if operator == "greater" else a < b
    if operator == "range":
        low, high = wanted
        a, lo, hi = _number(value), _number(low), _number(high)
        if a is not None and lo is not None and hi is not None:
            return lo <= a <= hi
        return str(low) <= text <= str(high)
    raise ValueError(f"unknown operator {operator!r}")


def rule_holds(rule: Rule, attributes: Mapping[str, Sequence[Any]]) -> bool:
    """Whether ``rule`` holds for one set of attributes (values as lists)."""
    values = [v for v in attributes.get(rule.attribute, []) if v not in ("", None)]
    if rule.operator == "notNull":
        return bool(values)
    return any(_compare(v, rule.value, rule.operator) for v in values)


def study_rule_holds(rule: Rule, study: StudyInfo) -> bool:
    """A study rule: on the study's attributes, or on any of its series."""
    if rule.attribute in study.attributes:
        return rule_holds(rule, study.attributes)
    return any(rule_holds(rule, s.attributes) for s in study.series)


def score(protocol: HangingProtocol, study: StudyInfo) -> float | None:
    """The protocol's score for ``study``; None when a required rule fails."""
    total = 0.0
    for rule in protocol.rules:
        if study_rule_holds(rule, study):
            total += rule.weight
        elif rule.required:
            return None
    return total


@dataclass(frozen=True)
class Match:
    """The chosen protocol and its score."""

    protocol: HangingProtocol
    score: float


def best_protocol(protocols: Sequence[HangingProtocol], study: StudyInfo) -> Match | None:
    """The highest-scoring protocol that is not excluded (earlier wins ties)."""
    best: Match | None = None
    for protocol in protocols:
        value = score(protocol, study)
        if value is not None and (best is None or value > best.score):
            best = Match(protocol, value)
    return best


def select_series(selector: SeriesSelector, study: StudyInfo) -> SeriesInfo | None:
    """The series a selector picks: best score; required rules must hold.

    Ties keep the study's series order (by Series Number, as QIDO returns them).
    """
    ranked: list[tuple[float, int, SeriesInfo]] = []
    for position, series in enumerate(study.series):
        total = 0.0
        for rule in selector.rules:
            if rule_holds(rule, series.attributes):
                total += rule.weight
            elif rule.required:
                break
        else:
            ranked.append((total, position, series))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    if selector.occurrence >= len(ranked):
        return None
    return ranked[selector.occurrence][2]


@dataclass(frozen=True)
class Hanging:
    """A protocol applied: the series each selector chose (None where none fits)."""

    protocol: HangingProtocol
    series: Mapping[str, SeriesInfo | None]
    priors: Sequence[StudyInfo]


def hang(protocol: HangingProtocol, current: StudyInfo, priors: Sequence[StudyInfo] = ()
         ) -> Hanging:
    """Bind every series selector of ``protocol`` to a series of the current or a prior."""
    chosen: dict[str, SeriesInfo | None] = {}
    for selector in protocol.series:
        if selector.study == "current":
            chosen[selector.name] = select_series(selector, current)
        elif selector.prior_index < len(priors):
            chosen[selector.name] = select_series(selector, priors[selector.prior_index])
        else:
            chosen[selector.name] = None
    return Hanging(protocol, chosen, tuple(priors))
