# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""The viewer's volume tool: a region grown from a click, its mask overlay, brush, SEG.

The browser (``assets/volume_tool.js``) sends, with the ``volume`` tool, a click as
``{"type": "volume", "action": "seed", "index", "row", "col"}`` (display index,
zero-based row and column of the acquired image) and, with the ``brush`` tool, a
dragged stroke as ``{"action": "brush", "index", "points": [[row, col], ...]}``.
:class:`VolumeController` carries them out on a
:class:`~workbench.viewer.volume_region.SeriesRegion` (the series loaded once as a
volume over WADO-RS through the reader's
:class:`~workbench.dicomweb.client_base.ArchiveClient`, so the archive checks and audits
the access; :func:`~workbench.measure.segment.region_grow` between ``lower`` and
``upper``; :func:`~workbench.measure.segment.brush_stroke`, a disc in the viewed slice;
:func:`~workbench.measure.volume.measure_volume`), and sends the mask back to the
browser as run-lengths per displayed image (``ImageView.volume_mask``,
:func:`~workbench.viewer.volume_region.mask_overlay`). "Save as SEG" stores the mask as
a DICOM Segmentation (STOW-RS, as the reader); the series' stored SEGs are read back
onto the volume when the viewer opens.

Every archive call and computation runs on a worker thread (the page's Python side calls
its own server: blocking the event loop would deadlock); parameters change on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import panel as pn
import param
import xarray as xr

from workbench.dicomweb.client_base import ArchiveClient
from workbench.errors import WorkbenchError
from workbench.measure.seg_archive import ArchivedMask
from workbench.viewer.viewers import SliceViewer
from workbench.viewer.volume_region import Progress, SeriesRegion, describe_volume

__all__ = ["RANGES", "VOLUME_TOOLS", "VolumeController"]

VOLUME_TOOLS = ("volume", "brush")
"""Left-button tools the controller adds: grow from a click, paint or erase."""
AROUND_SEED, CUSTOM = "around the seed", "custom"
RANGES: dict[str, tuple[float | None, float | None]] = {
    "fat": (-190.0, -30.0), "fluid": (-10.0, 30.0), "soft tissue": (20.0, 100.0),
    "contrast, vessel": (150.0, 700.0), "bone": (300.0, None), "air, lung": (None, -400.0),
}
"""Named CT ranges in HU (inclusive, None open), offered for series in HU only."""
_REFUSALS = (WorkbenchError, ValueError, KeyError, TypeError)


class VolumeController(param.Parameterized):
    """The volume tool of one :class:`~workbench.viewer.viewers.SliceViewer` of a stack.

    Adds the tools of :data:`VOLUME_TOOLS` to the viewer, answers the browser's seeds and
    strokes (``ImageView.volume_handler``) and keeps ``ImageView.volume_mask`` equal to
    the region.

    Parameters
    ----------
    client
        The reader's archive (the series is retrieved and the SEG stored through it).
    viewer
        The viewer; its series must form a volume (``series.geometry``).
    """

    preset: param.Selector[str] = param.Selector(default=AROUND_SEED, objects=[AROUND_SEED],
                                                 doc="""
        How the range is chosen: around the seed's value (``tolerance``), as typed
        (``custom``), or a named CT range (:data:`RANGES`).""")
    tolerance = param.Number(default=100.0, bounds=(0, None), doc="""
        Around the seed: the range is the seed's value plus or minus this.""")
    lower = param.Number(default=None, allow_None=True, doc="Lowest value grown into (inclusive).")
    upper = param.Number(default=None, allow_None=True, doc="Highest value grown into (inclusive).")
    brush_radius = param.Number(default=5.0, bounds=(0.5, 100), doc="Brush radius in mm.")
    brush_mode: param.Selector[str] = param.Selector(default="add", objects=["add", "erase"],
                                                     doc="What the brush does.")
    label = param.String(default="region", doc="Segment Label of the SEG saved.")
    status = param.String(default="", doc="What is being done (loading, growing).")
    result = param.String(default="", doc="The region's measurements, as text.")
    message = param.String(default="", doc="The last refusal, error or saved SEG.")
    stats = param.Parameter(default=None, doc="The region's VolumeStatistics, or None.")
    stored: param.Selector[str] = param.Selector(default="", objects=[""], doc="""
        A segment of the series' stored SEGs, shown (and edited) as the mask.""")

    def __init__(self, client: ArchiveClient, viewer: SliceViewer, **params: Any) -> None:
        super().__init__(**params)
        series = viewer.series
        if series is None or series.geometry is None:
            raise ValueError("the volume tool needs a series of parallel slices (a volume)")
        self.viewer, self.series = viewer, series
        self.region = SeriesRegion(client, series)
        """The volume, the mask and the stored segments (the blocking work)."""
        if series.units == "HU":
            self.param.preset.objects = [AROUND_SEED, CUSTOM, *RANGES]
        else:
            self.param.preset.objects = [AROUND_SEED, CUSTOM]
        self.seed: tuple[int, int, int] | None = None
        """``(display index, row, col)`` of the last click."""
        self.bounds: tuple[float | None, float | None] = (None, None)
        """The range the region was last grown in."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._typing = True   # lower/upper changed by the reader, not by a seed or preset
        self._version = 0     # of the overlay sent: a refused stroke's preview is redrawn
        tools = list(dict.fromkeys([*(viewer.param.tool.objects or []), *VOLUME_TOOLS]))
        viewer.param.tool.objects = tools
        viewer.view.param.tool.objects = tools
        viewer.view.volume_handler = self.received
        self.param.watch(self._preset_chosen, "preset")
        self.param.watch(self._bounds_typed, ["lower", "upper"])
        self.param.watch(self._brush_changed, ["brush_radius", "brush_mode"])
        self.param.watch(self._stored_chosen, "stored")
        self._brush_changed()

    @property
    def mask(self) -> xr.DataArray | None:
        """The region (boolean, aligned with the series' volume), or None."""
        return self.region.mask

    @property
    def masks(self) -> list[ArchivedMask]:
        """The series' stored SEG segments read so far (and those saved here)."""
        return self.region.masks

    def stroke_centres(self, index: int, points: Sequence[Sequence[float]], radius_mm: float
                       ) -> list[tuple[float, float, float]]:
        """Where a stroke on image `index` paints (see
        :meth:`~workbench.viewer.volume_region.SeriesRegion.stroke_centres`)."""
        self._acquired()
        return self.region.stroke_centres(index, points, radius_mm)

    # -- browser messages ---------------------------------------------------------------
    def _perform(self, message: Mapping[str, Any], progress: Progress) -> Any:
        """Carry out a message (blocking, on a worker thread in a page)."""
        action = message.get("action")
        if action in ("seed", "regrow"):
            self._acquired()
            seed = self.seed if action == "regrow" else (
                int(message["index"]), int(message["row"]), int(message["col"]))
            if seed is None:
                raise ValueError("click a seed with the volume tool first")
            tolerance = self.tolerance if self.preset == AROUND_SEED else None
            stats, self.bounds = self.region.grow(*seed, (self.lower, self.upper),
                                                  tolerance=tolerance, progress=progress)
            self.seed = seed
            return stats
        if action == "brush":
            self._acquired()
            return self.region.paint(int(message["index"]), list(message.get("points") or []),
                                     self.brush_radius, erase=self.brush_mode == "erase",
                                     progress=progress)
        if action == "save":
            return self.region.save(self.label, (self.lower, self.upper))
        if action == "load":
            masks = self.region.load_stored(progress)
            return self.region.use_stored(0) if masks else None
        if action == "stored":
            return self.region.use_stored(int(message["number"]))
        raise ValueError(f"unknown volume action {action!r}")

    def _acquired(self) -> None:
        if self.viewer.orientation != "acquired":
            raise ValueError("the volume tool works on the acquired images, not on the "
                             f"{self.viewer.orientation} plane")

    def _done(self, action: Any, outcome: Any) -> None:
        """Show what an action gave (on the event loop, or directly in a script)."""
        self.status = ""
        names = [f"{k + 1}: {m.label}" for k, m in enumerate(self.masks)]
        if self.param.stored.objects != ["", *names]:   # a widget changed only if need be
            self.param.stored.objects = ["", *names]
        if action == "save":
            self.message = str(outcome)
            return
        if action in ("seed", "regrow") and self.preset == AROUND_SEED:
            self._set_bounds(*self.bounds)
        if action == "load":
            if not self.masks:
                return
            self.message = f"{len(self.masks)} stored segment(s) of this series: 1 shown"
            self._typing = False
            try:
                self.stored = names[0]
            finally:
                self._typing = True
        self.stats = outcome
        self._show()

    def handle(self, message: Mapping[str, Any]) -> None:
        """Carry out a browser message now (a test, a script): ``seed``, ``brush``,
        ``regrow``, ``save``, ``load``, ``stored``. A refusal goes to ``message``."""
        self.message = ""
        try:
            outcome = self._perform(message, lambda text: setattr(self, "status", text))
        except _REFUSALS as exc:
            self._refused(exc)
            return
        self._done(message.get("action"), outcome)

    async def handle_async(self, message: Mapping[str, Any]) -> None:
        """:meth:`handle` with the work on a worker thread; progress and results are set
        on the event loop."""
        loop = asyncio.get_running_loop()

        def progress(text: str) -> None:
            loop.call_soon_threadsafe(setattr, self, "status", text)

        self.message = ""
        if message.get("action") != "load":   # reading stored SEGs says so only if any
            self.status = "Working..."
        try:
            outcome = await asyncio.to_thread(self._perform, message, progress)
        except _REFUSALS as exc:
            self._refused(exc)
            return
        self._done(message.get("action"), outcome)

    def received(self, message: Mapping[str, Any]) -> None:
        """A message (browser or button): on a worker thread in a served page, or in a
        task on a running loop, else now (never blocks a running event loop)."""
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.execute(partial(self.handle_async, message))
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.handle(message)
            return
        task = loop.create_task(self.handle_async(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refused(self, exc: Exception) -> None:
        self.status = ""
        self.message = f"Volume tool: {exc}"
        self._show()   # the browser drops what it drew ahead of the answer

    # -- display --------------------------------------------------------------------------
    def _show(self) -> None:
        stats = self.stats
        if stats is not None:
            self.result = describe_volume(stats)
        else:
            self.result = "" if self.mask is None else "The region is empty (0 voxels)."
        self._version += 1
        self.viewer.view.volume_mask = {**self.region.overlay(), "version": self._version}

    def _brush_changed(self, *_: Any) -> None:
        self.viewer.view.volume_brush = {"radius_mm": float(self.brush_radius),
                                         "erase": self.brush_mode == "erase"}

    def _set_bounds(self, lower: float | None, upper: float | None) -> None:
        self._typing = False
        try:
            self.param.update(lower=lower, upper=upper)
        finally:
            self._typing = True

    def _preset_chosen(self, event: param.parameterized.Event) -> None:
        if event.new in RANGES:
            self._set_bounds(*RANGES[event.new])

    def _bounds_typed(self, *_: param.parameterized.Event) -> None:
        if self._typing and self.preset != CUSTOM:
            self.preset = CUSTOM

    def _stored_chosen(self, event: param.parameterized.Event) -> None:
        if self._typing and event.new:
            number = int(str(event.new).split(":", 1)[0]) - 1
            self.received({"action": "stored", "number": number})

    # -- layout -------------------------------------------------------------------------
    def controls(self) -> list[Any]:
        """The tool's panel: range, brush, label and save, stored masks, progress, result."""
        unit = self.series.units or "value"
        regrow = pn.widgets.Button(label="Grow again", width=100)
        regrow.on_click(lambda _: self.received({"action": "regrow"}))
        save = pn.widgets.Button(label="Save as SEG", width=110, button_type="primary",
                                 css_classes=["wb-volume-save"])
        save.on_click(lambda _: self.received({"action": "save"}))
        return [pn.Column(
            pn.Row(pn.widgets.Select.from_param(self.param.preset, name="Volume range",
                                                width=150),
                   pn.widgets.FloatInput.from_param(self.param.lower, name=f"Lower {unit}",
                                                    width=90),
                   pn.widgets.FloatInput.from_param(self.param.upper, name=f"Upper {unit}",
                                                    width=90),
                   pn.widgets.FloatInput.from_param(self.param.tolerance,
                                                    name=f"\u00b1 {unit} around seed", width=110),
                   regrow),
            pn.Row(pn.widgets.FloatInput.from_param(self.param.brush_radius,
                                                    name="Brush radius mm", width=110),
                   pn.widgets.RadioButtonGroup.from_param(self.param.brush_mode, name="Brush"),
                   pn.widgets.TextInput.from_param(self.param.label, name="Segment label",
                                                   width=140),
                   save,
                   pn.widgets.Select.from_param(self.param.stored, name="Stored masks",
                                                width=160)),
            pn.pane.Str(self.param.status, css_classes=["wb-volume-status"]),
            pn.pane.Str(self.param.result, css_classes=["wb-volume-result"]),
            pn.pane.Str(self.param.message, css_classes=["wb-volume-message"]),
            css_classes=["wb-volume-panel"], sizing_mode="stretch_width")]

