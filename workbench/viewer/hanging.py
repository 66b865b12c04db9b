"""Hanging protocols applied in the viewer: what goes where, as plain values.

:func:`plan_hanging` turns a :class:`~workbench.hanging.Hanging` (a protocol whose series
selectors are bound to series of the current study and its priors) into a
:class:`HangingPlan`: per stage, the grid, the series of each viewport with its options
(orientation, window preset, initial slice, invert) and the synchronisation groups by
viewport index. A viewport whose selector found no series (no prior yet, a missing
sequence) is left out and the grid shrinks to fit the rest, so a CT without a prior
opens as one large viewport rather than beside an empty one; a stage left with nothing
is dropped, and a protocol left with no stage is not applied.

:func:`protocol_from_layout` goes the other way ("save this hanging"): the viewports on
screen become a user protocol that matches studies like the current one.

Nothing here touches Panel or the archive; :mod:`workbench.viewer.hanging_app` applies
plans to the reading app.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from workbench.hanging import (
    Hanging,
    HangingProtocol,
    Rule,
    SeriesInfo,
    SeriesSelector,
    Stage,
    StudyInfo,
    SyncGroup,
    Viewport,
)

__all__ = ["HangingPlan", "ShownSeries", "StagePlan", "ViewportPlan", "grid_shape",
           "initial_index", "plan_hanging", "protocol_from_layout"]

InitialSlice = Literal["first", "middle", "last"] | int


def grid_shape(layout: str) -> tuple[int, int]:
    """``(rows, columns)`` of a layout name such as ``"1x2"`` (1 to 4 each).

    Examples
    --------
    >>> grid_shape("2x3")
    (2, 3)
    """
    try:
        rows, columns = (int(part) for part in layout.lower().split("x"))
    except ValueError:
        raise ValueError(f"layout {layout!r} is not ROWSxCOLUMNS, e.g. '1x2'") from None
    if not (1 <= rows <= 4 and 1 <= columns <= 4):
        raise ValueError(f"layout {layout!r}: rows and columns must be 1 to 4")
    return rows, columns


def initial_index(initial: InitialSlice, count: int) -> int:
    """The zero-based image a viewport starts on (``count`` images; clamped).

    Examples
    --------
    >>> [initial_index(k, 24) for k in ("first", "middle", "last", 30)]
    [0, 12, 23, 23]
    """
    if count <= 0:
        return 0
    if initial == "first":
        return 0
    if initial == "middle":
        return count // 2
    if initial == "last":
        return count - 1
    return min(max(0, int(initial)), count - 1)


@dataclass(frozen=True)
class ViewportPlan:
    """One viewport of a stage: which series of which study, shown how.

    Attributes
    ----------
    selector
        The protocol's series selector that chose the series.
    study_uid, series_uid
        The series (of the current study or of a prior).
    prior
        ``None`` for the current study, else the prior's index (0: the most recent).
    label
        Short text for the reader: ``"current"`` or ``"prior 2025-03-01"``.
    """

    selector: str
    study_uid: str
    series_uid: str
    prior: int | None
    label: str
    orientation: str = "acquired"
    window_preset: str | None = None
    initial_slice: InitialSlice = "first"
    invert: bool = False


@dataclass(frozen=True)
class StagePlan:
    """A stage as it will be shown: grid, viewports row by row, sync groups."""

    name: str
    rows: int
    columns: int
    viewports: tuple[ViewportPlan, ...]
    sync: tuple[SyncGroup, ...] = ()

    @property
    def layout(self) -> str:
        """The layout name, e.g. ``"1x2"``."""
        return f"{self.rows}x{self.columns}"


@dataclass(frozen=True)
class HangingPlan:
    """A protocol ready to show: its stages (never empty) and the priors it loaded."""

    protocol: HangingProtocol
    stages: tuple[StagePlan, ...]
    priors: tuple[StudyInfo, ...] = ()
    own: bool = False


def _pretty(date: str) -> str:
    return f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else date


def _fit(count: int, rows: int, columns: int) -> tuple[int, int]:
    """The protocol's grid, shrunk to hold ``count`` viewports without an empty row or
    column (1x2 with one left: 1x1; 2x2 with three left: 2x2)."""
    if count >= rows * columns:
        return rows, columns
    columns = min(columns, count)
    return min(rows, math.ceil(count / columns)), columns


def _stage_plan(stage: Stage, hanging: Hanging, current: StudyInfo) -> StagePlan | None:
    selectors = {s.name: s for s in hanging.protocol.series}
    kept: list[ViewportPlan] = []
    new_index: dict[int, int] = {}
    for position, viewport in enumerate(stage.viewports):
        series = hanging.series.get(viewport.series)
        if series is None:
            continue
        selector = selectors[viewport.series]
        if selector.study == "current":
            study, prior, label = current, None, "current"
        else:
            study = hanging.priors[selector.prior_index]
            prior, label = selector.prior_index, f"prior {_pretty(study.first('StudyDate'))}"
        new_index[position] = len(kept)
        kept.append(ViewportPlan(viewport.series, study.uid, series.uid, prior, label,
                                 viewport.orientation, viewport.window_preset,
                                 viewport.initial_slice, viewport.invert))
    if not kept:
        return None
    groups = []
    for group in stage.sync:
        members = [new_index[k] for k in group.viewports if k in new_index]
        if len(members) >= 2:
            groups.append(SyncGroup(kind=group.kind, viewports=members))
    rows, columns = _fit(len(kept), stage.rows, stage.columns)
    return StagePlan(stage.name, rows, columns, tuple(kept), tuple(groups))


def plan_hanging(hanging: Hanging, current: StudyInfo, *, own: bool = False
                 ) -> HangingPlan | None:
    """What a bound protocol shows, stage by stage; None when no stage has a series.

    Parameters
    ----------
    hanging
        :func:`workbench.hanging.hang` of the protocol over ``current`` and its priors.
    current
        The study being read.
    own
        Whether the protocol is the reader's own (shown to the reader).

    Examples
    --------
    >>> from workbench.hanging import default_protocols, hang
    >>> ct = SeriesInfo({"SeriesInstanceUID": ["1.2.1"], "Modality": ["CT"],
    ...                  "Reconstructable": ["YES"]})
    >>> study = StudyInfo({"StudyInstanceUID": ["1.2"], "ModalitiesInStudy": ["CT"]}, (ct,))
    >>> plan = plan_hanging(hang(default_protocols()[0], study), study)
    >>> [(s.layout, [v.series_uid for v in s.viewports]) for s in plan.stages]
    [('1x1', ['1.2.1']), ('1x3', ['1.2.1', '1.2.1', '1.2.1'])]
    """
    stages = [plan for stage in hanging.protocol.stages
              if (plan := _stage_plan(stage, hanging, current)) is not None]
    if not stages:
        return None
    return HangingPlan(hanging.protocol, tuple(stages), tuple(hanging.priors), own)


@dataclass(frozen=True)
class ShownSeries:
    """What one viewport on screen holds, as "save this hanging" describes it.

    Attributes
    ----------
    series
        QIDO attributes of the series shown (Modality, SeriesDescription, ...).
    prior
        ``None`` for the current study, else the prior's index.
    selector
        The name of the applied protocol's selector that chose this series, if any: its
        rules are kept (they say "the latest prior's CT", not one UID).
    """

    series: SeriesInfo
    prior: int | None = None
    selector: str | None = None
    orientation: str = "acquired"
    window_preset: str | None = None
    invert: bool = False


def _series_rules(series: SeriesInfo) -> list[Rule]:
    rules = []
    modality = (series.attributes.get("Modality") or [""])[0]
    if modality:
        rules.append(Rule(attribute="Modality", value=str(modality), required=True))
    description = (series.attributes.get("SeriesDescription") or [""])[0]
    if description:
        rules.append(Rule(attribute="SeriesDescription", operator="equals",
                          value=str(description), weight=3))
    return rules


def _study_rules(current: StudyInfo, modality: str) -> list[Rule]:
    rules = [Rule(attribute="ModalitiesInStudy", value=modality, required=True, weight=2)]
    for part in current.attributes.get("BodyPartExamined", [])[:1]:
        rules.append(Rule(attribute="BodyPartExamined", operator="icontains", value=str(part),
                          weight=3))
    description = current.first("StudyDescription")
    if description:
        rules.append(Rule(attribute="StudyDescription", operator="icontains",
                          value=description, weight=5))
    return rules


def protocol_from_layout(name: str, current: StudyInfo, layout: str,
                         shown: Sequence[ShownSeries | None], *,
                         applied: HangingProtocol | None = None,
                         sync: Sequence[SyncGroup] = ()) -> HangingProtocol:
    """The viewports on screen as a user protocol ("save this hanging").

    Parameters
    ----------
    name
        The protocol's name (the reader's; saving again under it replaces it).
    current
        The study being read: its modality, body part and description become the
        matching rules, weighted so that the saved protocol beats the shipped ones for
        studies like it.
    layout
        The grid on screen, e.g. ``"1x2"``.
    shown
        Row by row, what each viewport holds (``None``: empty, left out).
    applied
        The protocol applied before, if any: selectors reused by ``shown`` keep their
        rules, and its stages follow the saved one.
    sync
        Synchronisation groups over the indices of ``shown`` (empty viewports left out).

    Raises
    ------
    ValueError
        No viewport holds a series, or the result is not a valid protocol.
    """
    rows, columns = grid_shape(layout)
    filled = [(k, s) for k, s in enumerate(shown[: rows * columns]) if s is not None]
    if not filled:
        raise ValueError("save this hanging: no viewport shows a series")
    selectors: dict[str, SeriesSelector] = {}
    previous = {s.name: s for s in applied.series} if applied is not None else {}
    viewports: list[Viewport] = []
    index_of: dict[int, int] = {}
    for position, item in filled:
        if item.selector is not None and item.selector in previous:
            selector = previous[item.selector]
        else:
            selector = SeriesSelector(
                name=f"viewport {position + 1}",
                study="current" if item.prior is None else "prior",
                prior_index=item.prior or 0, rules=_series_rules(item.series))
        selectors.setdefault(selector.name, selector)
        index_of[position] = len(viewports)
        viewports.append(Viewport(
            series=selector.name, orientation=item.orientation,  # type: ignore[arg-type]
            window_preset=item.window_preset, invert=item.invert,
            initial_slice="middle" if item.orientation != "acquired" else "first"))
    groups = []
    for group in sync:
        members = [index_of[k] for k in group.viewports if k in index_of]
        if len(members) >= 2:
            groups.append(SyncGroup(kind=group.kind, viewports=members))
    rows, columns = _fit(len(viewports), rows, columns)
    stages = [Stage(name="saved", rows=rows, columns=columns, viewports=viewports,
                    sync=groups)]
    if applied is not None:
        stages += list(applied.stages)
        for selector in applied.series:
            selectors.setdefault(selector.name, selector)
    modality = next((str(m) for _, s in filled for m in s.series.attributes.get("Modality", [])
                     if m), "")
    modalities = [str(m) for m in current.attributes.get("ModalitiesInStudy", [])]
    if not modality and modalities:
        modality = modalities[0]
    priors = max([s.prior_index + 1 for s in selectors.values() if s.study == "prior"],
                 default=0)
    return HangingProtocol.model_validate({
        "name": name, "description": "Saved from the viewer.",
        "rules": [r.model_dump() for r in _study_rules(current, modality)] if modality else [],
        "priors": priors, "series": [s.model_dump() for s in selectors.values()],
        "stages": [s.model_dump() for s in stages]})


def selector_of(plan: StagePlan, study_uid: str, series_uid: str) -> ViewportPlan | None:
    """The stage's viewport plan that shows ``series_uid`` of ``study_uid``, if any."""
    return next((v for v in plan.viewports
                 if v.study_uid == study_uid and v.series_uid == series_uid), None)


def series_attributes(items: Sequence[Mapping[str, object]]) -> dict[str, SeriesInfo]:
    """QIDO-RS series results by SeriesInstanceUID, as :class:`SeriesInfo`."""
    infos = (SeriesInfo.from_json(item) for item in items)
    return {info.uid: info for info in infos}
