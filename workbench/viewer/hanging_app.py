# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""Hanging protocols, priors and key images in the reading app.

:class:`HangingController` belongs to a :class:`~workbench.viewer.reading.ReadingApp`.
When a study opens it asks its :class:`~workbench.viewer.hanging_api.ProtocolSource`
for the reader's protocols (own first, then shipped), scores them on the study's QIDO
attributes, finds the priors the winner wants through QIDO, and shows the first stage
of the :class:`~workbench.viewer.hanging.HangingPlan`: layout, series per viewport
(current study and priors), orientation, window preset, initial slice, invert, and the
synchronisation groups, handed to the browser (``ImageView.sync``), which keeps the
viewports together itself. Stages switch with ``]`` / ``[`` or the stage bar.

Key images: the study's KOS documents are read on open; their images get a badge in
the viewports and cards in the "Key images" list (the filter of the study view);
"Flag key image" stores a new KOS for the image on screen. Readers who prefer it
(``ViewingPreferences.open_key_images_first``) and referring physicians open a study
on its key images when it has any.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import panel as pn
import param
from panel.custom import JSComponent

from workbench.hanging import (
    HangingProtocol,
    SeriesInfo,
    StudyInfo,
    SyncGroup,
    ViewingPreferences,
    best_protocol,
    find_priors,
    hang,
)
from workbench.imaging.mpr import DISPLAY_ORIENTATIONS
from workbench.viewer.components import asset
from workbench.viewer.display import SeriesDisplay
from workbench.viewer.hanging import (
    HangingPlan,
    ShownSeries,
    StagePlan,
    ViewportPlan,
    initial_index,
    plan_hanging,
    protocol_from_layout,
)
from workbench.viewer.hanging_api import ProtocolSource
from workbench.viewer.key_images import (
    KeyImageEntry,
    flag_key_image,
    key_indices,
    study_key_images,
)
from workbench.viewer.viewers import SliceViewer

if TYPE_CHECKING:
    from workbench.viewer.reading import ReadingApp

__all__ = ["HangingController", "KeyImageList", "StageBar", "key_images_plan"]

_STUDY_FIELDS = ("StudyDescription", "ModalitiesInStudy", "BodyPartExamined",
                 "IssuerOfPatientID", "StudyTime", "PatientID", "StudyDate")
_SERIES_FIELDS = ("BodyPartExamined", "SeriesDescription", "SeriesNumber", "Modality",
                  "NumberOfSeriesRelatedInstances", "ProtocolName")
_RECIPIENT_ROLES = frozenset({"referring_physician"})


class StageBar(JSComponent):  # type: ignore[misc]
    """Protocol name, stage indicator and stage buttons; ``]`` / ``[`` switch stages."""

    protocol = param.String(default="", doc="The applied protocol's name (empty: none).")
    own = param.Boolean(default=False, doc="Whether it is the reader's own protocol.")
    stage = param.Integer(default=0, bounds=(0, None), doc="Stage shown, zero-based.")
    stages = param.Integer(default=0, bounds=(0, None), doc="Number of stages.")
    stage_name = param.String(default="", doc="The shown stage's name.")

    _esm = asset("stage_bar.js")
    _stylesheets = [asset("hanging.css")]


class KeyImageList(JSComponent):  # type: ignore[misc]
    """The study's key images as cards (thumbnail, "KEY" badge, note)."""

    entries = param.List(default=[], doc="""
        ``[{"id", "thumbnail", "title", "note"}, ...]``: text is shown as text.""")
    selected = param.String(default="", doc="``id`` of the card last clicked.")
    clicks = param.Integer(default=0, doc="Counts clicks (clicking a card again opens it).")

    _esm = asset("key_images.js")
    _stylesheets = [asset("hanging.css")]


def key_images_plan(entries: Sequence[KeyImageEntry], study_uid: str) -> StagePlan | None:
    """A stage showing up to four key images of the study (one per viewport).

    Examples
    --------
    >>> plan = key_images_plan([KeyImageEntry("1.3", "1.4", None, "", "9")], "1.2")
    >>> plan.layout, plan.viewports[0].series_uid
    ('1x1', '1.3')
    """
    shown = [e for e in entries if e.series_uid][:4]
    if not shown:
        return None
    rows, columns = {1: (1, 1), 2: (1, 2)}.get(len(shown), (2, 2))
    return StagePlan("key images", rows, columns, tuple(
        ViewportPlan(f"key {k + 1}", study_uid, e.series_uid, None, "key image",
                     initial_slice=0) for k, e in enumerate(shown)))


def _normals(series: SeriesDisplay) -> dict[str, list[float]]:
    """Unit normals (LPS) of the acquired images and of each plane the browser cuts."""
    normals: dict[str, list[float]] = {}
    if series.geometry is not None:
        normals["acquired"] = [float(v) for v in series.geometry.normal]
    for name in series.planes:
        row, column = DISPLAY_ORIENTATIONS[name]
        normals[name] = [float(v) for v in np.cross(row, column)]
    return normals


def _preset_name(viewer: SliceViewer, wanted: str | None) -> str | None:
    """The viewer's preset called ``wanted`` (exactly, else ignoring case), if any."""
    if not wanted:
        return None
    names = [str(n) for n in (viewer.param.preset.objects or []) if n]
    if wanted in names:
        return wanted
    return next((n for n in names if n.casefold() == wanted.casefold()), None)


class HangingController(param.Parameterized):
    """Applies protocols, switches stages, saves the hanging, flags key images."""

    stage = param.Integer(default=0, bounds=(0, None), doc="Stage shown, zero-based.")
    note = param.String(default="", doc="Note stored with the next key image flagged.")
    save_name = param.String(default="", doc="Name the current layout is saved under.")
    key_only = param.Boolean(default=False, doc="Show the key images instead of the series.")
    message = param.String(default="", doc="What the last action did, for the reader.")

    def __init__(self, app: ReadingApp, source: ProtocolSource, **params: Any) -> None:
        super().__init__(**params)
        self.app, self.source = app, source
        self.plan: HangingPlan | None = None
        self.current: StudyInfo | None = None
        self.keys: list[KeyImageEntry] = []
        self.last_viewer: SliceViewer | None = None
        self._session = uuid.uuid4().hex[:12]
        self._preferences: ViewingPreferences | None = None
        self._roles: frozenset[str] = frozenset()
        self.bar = StageBar()
        self.key_list = KeyImageList()
        self.bar.param.watch(self._stage_chosen, "stage")
        self.key_list.param.watch(self._key_chosen, "clicks")

    # -- opening a study -------------------------------------------------------------------
    def _study_info(self, study: str) -> StudyInfo:
        client = self.app.client
        found = client.search_for_studies(match={"StudyInstanceUID": study},
                                          include_fields=_STUDY_FIELDS)
        series = client.search_for_series(study, include_fields=_SERIES_FIELDS)
        if not found:
            raise ValueError(f"study {study} is not in the archive (or not yours to see)")
        return StudyInfo.from_json(found[0], series)

    def _reader(self) -> tuple[ViewingPreferences, frozenset[str]]:
        if self._preferences is None:
            self._preferences, self._roles = self.source.preferences(), self.source.roles()
        return self._preferences, self._roles

    def _choose(self, study: str) -> tuple[StudyInfo, HangingPlan | None, list[KeyImageEntry]]:
        """Blocking: the study's attributes, the plan to show and its key images."""
        current = self._study_info(study)
        keys = study_key_images(self.app.client, study)
        preferences, roles = self._reader()
        recipient = bool(roles) and roles <= _RECIPIENT_ROLES
        if keys and (preferences.open_key_images_first or recipient):
            stage = key_images_plan(keys, study)
            if stage is not None:
                protocol = HangingProtocol.model_validate({
                    "name": "Key images", "series": [{"name": "key 1"}],
                    "stages": [{"name": "key images", "viewports": [{"series": "key 1"}]}]})
                return current, HangingPlan(protocol, (stage,)), keys
        entries = self.source.protocols()
        match = best_protocol([p for p, _ in entries], current)
        if match is None:
            return current, None, keys
        own = next(o for p, o in entries if p is match.protocol)
        priors = find_priors(self.app.client, current, match.protocol.priors)
        return current, plan_hanging(hang(match.protocol, current, priors), current,
                                     own=own), keys

    async def open(self, study: str) -> bool:
        """Apply the best protocol to ``study`` (the app's study page is shown).

        Returns False when no protocol fits (the app then opens the study as before).
        """
        self.current, self.plan, self.keys = await asyncio.to_thread(self._choose, study)
        self.key_list.entries = self._key_entries(study)
        self.key_only = False
        if self.plan is None:
            self.bar.param.update(protocol="", own=False, stage=0, stages=0, stage_name="")
            return False
        self.stage = 0
        await self.show_stage(0)
        return True

    # -- stages ----------------------------------------------------------------------------
    def _stage_chosen(self, event: param.parameterized.Event) -> None:
        if self.plan is not None and event.new != self.stage:
            pn.state.execute(partial(self.app._guarded, self.show_stage, event.new))

    async def show_stage(self, index: int) -> None:
        """Show stage ``index`` of the applied plan: layout, series, options, sync."""
        if self.plan is None:
            raise ValueError("no hanging protocol is applied to this study")
        if not 0 <= index < len(self.plan.stages):
            raise ValueError(f"the protocol has {len(self.plan.stages)} stages, not {index + 1}")
        stage = self.plan.stages[index]
        self.stage = index
        self.bar.param.update(protocol=self.plan.protocol.name, own=self.plan.own,
                              stages=len(self.plan.stages), stage=index, stage_name=stage.name)
        app = self.app
        layouts = list(app.param.layout.objects or [])
        if stage.layout not in layouts:
            app.param.layout.objects = [*layouts, stage.layout]
        # every viewer is set up before the grid shows it (see ReadingApp.open_series)
        viewers = []
        for slot, plan in enumerate(stage.viewports):
            viewer = await app.open_series(plan.series_uid, slot, plan.study_uid, show=False)
            if isinstance(viewer, SliceViewer):
                self._configure(viewer, plan)
            viewers.append(viewer)
        app.viewers = [*viewers, *[None] * (len(app.viewers) - len(viewers))]
        app._panels.clear()
        self._synchronise(stage, index)
        app.layout = stage.layout          # arranges the grid when the layout changes
        app._arrange()
        app.active = 0

    def _configure(self, viewer: SliceViewer, plan: ViewportPlan) -> None:
        if plan.orientation in (viewer.param.orientation.objects or []):
            viewer.orientation = plan.orientation
        preferences = self._preferences or ViewingPreferences()
        modality = viewer.series.modality if viewer.series is not None else ""
        preset = _preset_name(viewer, plan.window_preset or
                              preferences.window_presets.get(modality))
        if preset:
            viewer.preset = preset
        if plan.selector.startswith("key ") and viewer.series is not None:
            entry = [e for e in self.keys if e.series_uid][int(plan.selector[4:]) - 1]
            indices = key_indices(viewer.series, [entry])
            viewer.slice = indices[0] if indices else 0
        else:
            viewer.slice = initial_index(plan.initial_slice, viewer.count)
        viewer.invert = plan.invert

    def _synchronise(self, stage: StagePlan, index: int) -> None:
        tokens: dict[int, dict[str, str]] = {}
        for number, group in enumerate(stage.sync):
            token = f"{self._session}-{index}-{group.kind}-{number}"
            for k in group.viewports:
                tokens.setdefault(k, {})[group.kind] = token
        for k, viewer in enumerate(self.app.viewers[: len(stage.viewports)]):
            if isinstance(viewer, SliceViewer) and viewer.series is not None:
                viewer.view.sync = {"groups": tokens.get(k, {}),
                                    "normals": _normals(viewer.series)}

    # -- every viewer the app opens --------------------------------------------------------
    def viewer_opened(self, viewer: Any, series: SeriesDisplay) -> None:
        """Mark key images and follow the reader's presses (called by the app)."""
        if not isinstance(viewer, SliceViewer):
            return
        viewer.view.key_images = key_indices(series, self.keys)
        viewer.view.param.watch(lambda _: setattr(self, "last_viewer", viewer), "touched")
        if self.plan is None and self._preferences is not None:
            preset = _preset_name(viewer, self._preferences.window_presets.get(series.modality))
            if preset:
                viewer.preset = preset

    # -- key images ------------------------------------------------------------------------
    def _key_entries(self, study: str) -> list[dict[str, str]]:
        root = self.app.dicomweb_root
        rows = []
        for number, entry in enumerate(self.keys):
            base = f"{root}/studies/{study}/series/{entry.series_uid}/instances/{entry.sop_uid}"
            frame = entry.frames[0] if entry.frames else None
            thumb = (f"{base}/frames/{frame}/rendered?viewport=112,112" if frame
                     else f"{base}/thumbnail")
            title = "Key image" + (f", frame {frame}" if frame else "")
            rows.append({"id": str(number), "thumbnail": thumb if entry.series_uid else "",
                         "title": title, "note": entry.note})
        return rows

    def _target(self) -> SliceViewer:
        """The image viewer the reader last pressed in, else the first one on screen."""
        shown = [v for v in self.app.viewers if isinstance(v, SliceViewer)]
        if self.last_viewer is not None and self.last_viewer in shown:
            return self.last_viewer
        if not shown:
            raise ValueError("no image is shown to flag as key")
        return shown[0]

    async def flag(self) -> KeyImageEntry:
        """Flag the image on screen (of the last viewport pressed) as key, with ``note``."""
        viewer = self._target()
        if viewer.series is None:
            raise ValueError("no image is shown to flag as key")
        if viewer.orientation != "acquired":
            raise ValueError(f"a {viewer.orientation} plane is not a stored image: switch "
                             "to the acquired images to flag a key image")
        series, index = viewer.series, viewer.slice
        entry = await asyncio.to_thread(flag_key_image, self.app.client, series, index,
                                        self.note, instance_number=len(self.keys) + 1)
        self.keys = [*self.keys, entry]
        self.key_list.entries = self._key_entries(series.study_uid)
        for shown in self.app.viewers:
            if isinstance(shown, SliceViewer) and shown.series is not None:
                shown.view.key_images = key_indices(shown.series, self.keys)
        self.note = ""
        self.message = f"Image {index + 1} of series {series.number or ''} flagged as key."
        return entry

    def _key_chosen(self, _: param.parameterized.Event) -> None:
        chosen = self.key_list.selected
        if chosen.isdigit() and int(chosen) < len(self.keys):
            pn.state.execute(partial(self.app._guarded, self.show_key, int(chosen)))

    async def show_key(self, number: int) -> None:
        """Show key image ``number`` (of the list) in the viewport last pressed."""
        entry = self.keys[number]
        slot = self.app.active
        if self.last_viewer is not None and self.last_viewer in self.app.viewers:
            slot = self.app.viewers.index(self.last_viewer)
        viewer = await self.app.open_series(entry.series_uid, slot, show=False)
        if isinstance(viewer, SliceViewer) and viewer.series is not None:
            indices = key_indices(viewer.series, [entry])
            viewer.slice = indices[0] if indices else 0
            self.last_viewer = viewer
        self.app._arrange()

    # -- save this hanging -----------------------------------------------------------------
    def _shown(self) -> list[ShownSeries | None]:
        plan = self.plan
        stage = plan.stages[self.stage] if plan is not None else None
        prior_of = {p.uid: k for k, p in enumerate(plan.priors)} if plan is not None else {}
        shown: list[ShownSeries | None] = []
        for slot, viewer in enumerate(self.app.viewers):
            series = getattr(viewer, "series", None)
            if not isinstance(series, SeriesDisplay):
                shown.append(None)
                continue
            attributes = {"SeriesInstanceUID": [series.series_uid], "Modality": [series.modality],
                          "SeriesDescription": [series.description]}
            selector = None
            if stage is not None and slot < len(stage.viewports):
                placed = stage.viewports[slot]
                if (placed.study_uid, placed.series_uid) == (series.study_uid, series.series_uid):
                    selector = placed.selector
            prior = prior_of.get(series.study_uid)
            if prior is None and self.current is not None and series.study_uid != self.current.uid:
                shown.append(None)      # a study that is neither the current one nor a prior
                continue
            options = {"orientation": viewer.orientation, "invert": viewer.invert,
                       "window_preset": viewer.preset or None} \
                if isinstance(viewer, SliceViewer) else {}
            shown.append(ShownSeries(SeriesInfo(attributes), prior, selector, **options))
        return shown

    async def save(self) -> HangingProtocol:
        """Save the layout on screen as the reader's protocol ``save_name``."""
        name = self.save_name.strip()
        if not name:
            raise ValueError("give the hanging a name to save it under")
        if self.current is None:
            raise ValueError("open a study before saving its hanging")
        plan = self.plan
        applied = None if plan is None or plan.protocol.name == "Key images" else plan.protocol
        sync: Sequence[SyncGroup] = ()
        if plan is not None and plan.stages[self.stage].layout == self.app.layout:
            sync = plan.stages[self.stage].sync
        protocol = protocol_from_layout(name, self.current, self.app.layout, self._shown(),
                                        applied=applied, sync=sync)
        await asyncio.to_thread(self.source.save_protocol, protocol)
        self.message = f"Saved the hanging as {name!r}: studies like this one open this way."
        return protocol

    # -- layout ----------------------------------------------------------------------------
    def _act(self, action: Any) -> None:
        async def run() -> None:
            self.message = ""
            await self.app._guarded(action)
            if self.app.message:
                self.message = self.app.message
        pn.state.execute(run)

    def toolbar(self) -> pn.viewable.Viewable:
        """Stage bar, key-image flagging and "save this hanging"."""
        flag = pn.widgets.Button(label="\u2605 Flag key image", width=130,
                                 css_classes=["wb-flag-key"])
        flag.on_click(lambda _: self._act(self.flag))
        save = pn.widgets.Button(label="Save this hanging", width=140,
                                 css_classes=["wb-save-hanging"])
        save.on_click(lambda _: self._act(self.save))
        return pn.Row(
            self.bar,
            pn.widgets.TextInput.from_param(self.param.note, placeholder="key image note",
                                            name="", width=180),
            flag,
            pn.widgets.TextInput.from_param(self.param.save_name, placeholder="hanging name",
                                            name="", width=150),
            save, pn.pane.Str(self.param.message, css_classes=["wb-hanging-message"]),
            sizing_mode="stretch_width")

    def sidebar(self, series_cards: Any) -> pn.viewable.Viewable:
        """The series cards, or (the filter on) the key images."""
        toggle = pn.widgets.Toggle.from_param(self.param.key_only, name="\u2605 Key images",
                                              width=140, css_classes=["wb-key-filter"])
        body = pn.Column(series_cards, sizing_mode="stretch_height")

        def swap(*_: Any) -> None:
            body.objects = [pn.Column(self.key_list, width=150, scroll=True)
                            if self.key_only else series_cards]

        self.param.watch(swap, "key_only")
        return pn.Column(toggle, body, width=150, sizing_mode="stretch_height")
