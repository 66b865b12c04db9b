# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""The reading workspace: worklist, study browser and a grid of up to four viewports.

:class:`ReadingApp` holds the state (which page, which study, which series in which
viewport) and talks to the archive through an
:class:`~workbench.dicomweb.client_base.ArchiveClient`. Its archive calls block, so the
``async`` methods run them on a worker thread and change parameters afterwards on the
caller's event loop; tests run them with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import panel as pn
import param

from workbench.dicomweb.client_base import ArchiveClient
from workbench.errors import WorkbenchError
from workbench.viewer.annotations import AnnotationApi, AnnotationController
from workbench.viewer.hanging import grid_shape
from workbench.viewer.hanging_api import ProtocolSource
from workbench.viewer.hanging_app import HangingController
from workbench.viewer.report_api import ReportApi
from workbench.viewer.reporting import ReportForm
from workbench.viewer.series import SeriesDisplay, SeriesKind, describe_series
from workbench.viewer.spect import SpectDashboard, is_gated_spect
from workbench.viewer.viewers import SliceViewer, viewer_class
from workbench.viewer.volume_tool import VolumeController
from workbench.viewer.waveforms import DocumentViewer, EcgViewer, load_waveform
from workbench.viewer.worklist import StudyBrowser, Worklist

__all__ = ["LAYOUTS", "ReadingApp", "make_viewer"]

LAYOUTS = {"1x1": (1, 1), "1x2": (1, 2), "2x2": (2, 2)}
"""Viewport grids offered on the toolbar: (rows, columns). A hanging protocol's stage
may add another (up to 4x4, :func:`workbench.viewer.hanging.grid_shape`)."""
MAX_VIEWPORTS = 16


def make_viewer(series: SeriesDisplay, *, waveform: Any = None, dicomweb_root: str = "/dicom-web",
                archive_root: str = "", headers: dict[str, str] | None = None
                ) -> param.Parameterized:
    """Return the viewer for a series: slice, cine, ECG or document viewer.

    Parameters
    ----------
    series
        What :func:`~workbench.viewer.series.describe_series` returned.
    waveform
        The leads of a waveform series (:func:`~workbench.viewer.waveforms.load_waveform`).
    dicomweb_root, archive_root, headers
        How the browser reaches the archive (see the viewers).
    """
    headers = dict(headers or {})
    if series.kind in (SeriesKind.IMAGE, SeriesKind.CINE):
        return viewer_class(series.kind)(series=series, dicomweb_root=dicomweb_root,
                                         headers=headers)
    if series.kind is SeriesKind.WAVEFORM:
        return EcgViewer(series=series, waveform=waveform)
    if series.kind in (SeriesKind.PDF, SeriesKind.DOCUMENT):
        return DocumentViewer(series=series, dicomweb_root=dicomweb_root,
                              archive_root=archive_root, headers=headers)
    return Unsupported(series=series)


class Unsupported(param.Parameterized):
    """Stands in for a series no viewer shows (structured reports, presentation states)."""

    series = param.ClassSelector(class_=SeriesDisplay, doc="The series.")

    def __panel__(self) -> pn.viewable.Viewable:
        series = self.series
        assert series is not None
        return pn.pane.Str(f"Series {series.number or ''} ({series.modality or 'no modality'}, "
                           f"{series.description}) has no viewer yet.")


class ReadingApp(param.Parameterized):
    """Worklist -> study -> series in viewports, over one archive connection."""

    page: param.Selector[str] = param.Selector(
        default="worklist", objects=["worklist", "study"], doc="""
        The page shown: the worklist, or the open study.""")
    layout: param.Selector[str] = param.Selector(
        default="1x1", objects=list(LAYOUTS), doc="Viewport grid.")
    active = param.Integer(default=0, bounds=(0, MAX_VIEWPORTS - 1), doc="""
        Viewport (zero-based, row by row) the next chosen series goes to.""")
    user = param.String(default="", doc="The reader's e-mail address.")
    message = param.String(default="", doc="The last error, as text for the reader.")
    busy = param.Integer(default=0, bounds=(0, None), doc="""
        Reader actions running or waiting their turn (see ``_guarded``).""")
    done = param.Integer(default=0, bounds=(0, None), doc="""
        Reader actions finished since the page opened: a counter to wait on.""")

    def __init__(self, client: ArchiveClient, *, dicomweb_root: str = "/dicom-web",
                 archive_root: str = "", headers: dict[str, str] | None = None,
                 reports: ReportApi | None = None, hanging: ProtocolSource | None = None,
                 annotations: AnnotationApi | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self.dicomweb_root, self.archive_root = dicomweb_root, archive_root
        self.headers = dict(headers or {})
        self.worklist = Worklist(dicomweb_root=dicomweb_root)
        self.browser = StudyBrowser(dicomweb_root=dicomweb_root)
        # the open study's report form (a "Report" tab), when the archive's API is given
        self.report = None if reports is None else ReportForm(
            self.browser.param.study, api=reports)
        self.viewers: list[param.Parameterized | None] = [None] * MAX_VIEWPORTS
        # hanging protocols, priors and key images, when a protocol source is given
        self.hanging = None if hanging is None else HangingController(self, hanging)
        # measurement tools in image viewers, when the archive's annotation API is given
        self.annotations = annotations
        self.measurements: list[AnnotationController | None] = [None] * MAX_VIEWPORTS
        # and the volume tool in viewers of stacks (series that form a volume)
        self.volumes: list[VolumeController | None] = [None] * MAX_VIEWPORTS
        self._panels: dict[int, pn.viewable.Viewable] = {}
        self._actions = asyncio.Lock()   # see _guarded
        self.grid = pn.GridBox(ncols=1, sizing_mode="stretch_both", min_height=480)
        self.param.watch(self._layout_changed, ["layout"])
        self.worklist.param.watch(self._study_chosen, "study")
        self.browser.param.watch(self._series_chosen, "series")
        self._arrange()

    # -- actions (async: archive calls run on a thread) ---------------------------------
    @staticmethod
    async def _call(function: Any, *args: Any) -> Any:
        return await asyncio.to_thread(function, *args)

    async def _guarded(self, action: Any, *args: Any) -> None:
        """Run an action; an archive or data error becomes ``message`` for the reader.

        Actions run one at a time, in the order the reader asked for them: a series
        clicked while the study's hanging protocol is still being applied opens after
        it, and is not overwritten by the protocol's viewers when those finish.
        """
        self.busy += 1
        try:
            async with self._actions:
                self.message = ""
                try:
                    await action(*args)
                except (WorkbenchError, ValueError) as exc:
                    self.message = str(exc)
        finally:
            self.busy -= 1
            self.done += 1

    async def search(self) -> None:
        """Run the worklist's search."""
        self.worklist.message = "Searching..."
        try:
            rows = await self._call(self.worklist.fetch, self.client)
        except WorkbenchError as exc:
            self.worklist.message = f"Search failed: {exc}"
            raise
        self.worklist.show(rows)

    async def open_study(self, study: str) -> None:
        """Open a study: list its series and show the first displayable one."""
        rows = await self._call(self.browser.fetch, self.client, study)
        self.viewers = [None] * MAX_VIEWPORTS
        self.measurements = [None] * MAX_VIEWPORTS
        self.volumes = [None] * MAX_VIEWPORTS
        self._panels.clear()
        self.active = 0
        self.browser.show(study, rows)
        self.page = "study"
        if self.hanging is not None and await self.hanging.open(study):
            return
        if rows:
            await self.open_series(rows[0]["id"])

    async def open_series(self, series: str, viewport: int | None = None,
                          study: str | None = None, *, show: bool = True
                          ) -> param.Parameterized:
        """Show a series in `viewport` (default: the active one), of `study` (default:
        the open one; a prior's series come from another study).

        With ``show=False`` the viewer takes its slot but the grid is left as it is: the
        caller sets the viewer up and then calls ``_arrange()`` once, so the browser
        gets each viewer built as it should look (a widget changed while its view is
        still being built fails in BokehJS: "reading 'removeAttribute'").
        """
        study = study or self.browser.study
        # the study's measurements are fetched alongside the metadata (one wait, not two)
        listing = None
        if self.annotations is not None:
            listing = asyncio.ensure_future(
                self._call(partial(self.annotations.list, include_sr=True), study))
            # a failure is reported by _measure; one nobody waits for is not an error
            listing.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            metadata = await self._call(self.client.retrieve_series_metadata, study, series)
        except BaseException:
            if listing is not None:
                listing.cancel()
            raise
        display = describe_series(metadata)
        waveform = None
        if display.kind is SeriesKind.WAVEFORM:
            waveform = await self._call(load_waveform, self.client, display)
        viewer = make_viewer(display, waveform=waveform, dicomweb_root=self.dicomweb_root,
                             archive_root=self.archive_root, headers=self.headers)
        if is_gated_spect(metadata):  # gated NM SPECT: the study in the Gated SPECT dashboard
            viewer = SpectDashboard(study, client=self.client,
                                    reports=None if self.report is None else self.report.api)
        if self.hanging is not None:
            self.hanging.viewer_opened(viewer, display)
        slot = self.active if viewport is None else viewport
        self.measurements[slot] = await self._measure(viewer, listing)
        self.volumes[slot] = self._volume_tool(viewer)
        self.viewers[slot] = viewer
        self._panels.pop(slot, None)
        rows, columns = grid_shape(self.layout)
        self.active = (slot + 1) % (rows * columns)
        if show:
            self._arrange()
        return viewer

    async def _measure(self, viewer: param.Parameterized,
                       listing: asyncio.Future[Any] | None = None
                       ) -> AnnotationController | None:
        """Give an image viewer the measurement tools and its stored annotations (from
        `listing`, the study's list being fetched, when given)."""
        if self.annotations is None or not isinstance(viewer, SliceViewer):
            if listing is not None:
                listing.cancel()
            return None
        controller = AnnotationController(self.annotations, viewer)
        viewer.tool_controls = controller.controls()
        try:
            listed = None if listing is None else await listing
            controller.items = await self._call(controller.fetch, listed)
        except WorkbenchError as exc:  # the images still show; the reader sees why
            controller.message = f"Measurements not loaded: {exc}"
        return controller

    def _volume_tool(self, viewer: param.Parameterized) -> VolumeController | None:
        """Give a measured viewer of a stack the volume tool; its stored SEGs are read
        in the background (the images show meanwhile)."""
        if (self.annotations is None or not isinstance(viewer, SliceViewer)
                or viewer.series is None or viewer.series.geometry is None):
            return None
        volume = VolumeController(self.client, viewer)
        viewer.tool_controls = [*viewer.tool_controls, *volume.controls()]
        volume.received({"action": "load"})
        return volume

    def back(self) -> None:
        """Return to the worklist."""
        self.page = "worklist"

    # -- wiring -------------------------------------------------------------------------
    def _study_chosen(self, event: param.parameterized.Event) -> None:
        if event.new:
            pn.state.execute(partial(self._guarded, self.open_study, event.new))

    def _series_chosen(self, event: param.parameterized.Event) -> None:
        if event.new:
            pn.state.execute(partial(self._guarded, self.open_series, event.new))

    def _layout_changed(self, _: param.parameterized.Event) -> None:
        rows, columns = grid_shape(self.layout)
        empty = [k for k in range(rows * columns) if self.viewers[k] is None]
        self._arrange()
        self.active = empty[0] if empty else 0

    def _arrange(self) -> None:
        rows, columns = grid_shape(self.layout)
        slots: list[pn.viewable.Viewable] = []
        for k in range(rows * columns):
            viewer = self.viewers[k]
            if viewer is None:
                slots.append(pn.pane.Str(f"Viewport {k + 1}: choose a series.",
                                         sizing_mode="stretch_both"))
                continue
            if k not in self._panels:
                self._panels[k] = pn.panel(viewer)  # type: ignore[assignment]
            slots.append(self._panels[k])
        self.grid.ncols = columns
        self.grid.objects = slots
        self.param.active.bounds = (0, rows * columns - 1)
        self.active = min(self.active, rows * columns - 1)

    # -- layout -------------------------------------------------------------------------
    def _search_clicked(self, _: Any) -> None:
        pn.state.execute(partial(self._guarded, self.search))

    def worklist_page(self) -> pn.viewable.Viewable:
        """The search form and the study list."""
        search = pn.widgets.Button(label="Search", color="primary", width=90,
                                   css_classes=["wb-search"])
        search.on_click(self._search_clicked)
        clear = pn.widgets.Button(label="Clear", width=70)
        clear.on_click(lambda _: self.worklist.clear())
        return pn.Column(self.worklist.form(),
                         pn.Row(search, clear, pn.pane.Str(self.worklist.param.message)),
                         self.worklist.table, sizing_mode="stretch_width")

    def _viewport_picker(self) -> pn.viewable.Viewable:
        """Buttons 1-4 choosing the viewport the next series goes to."""
        picker = pn.widgets.RadioButtonGroup(label="Next series goes to viewport",
                                             color="light")

        def refresh(*_: Any) -> None:
            rows, columns = grid_shape(self.layout)
            picker.options = {str(k + 1): k for k in range(rows * columns)}
            picker.value = self.active

        refresh()
        self.param.watch(refresh, ["layout", "active"])
        picker.param.watch(lambda e: setattr(self, "active", e.new), "value")
        return pn.Row(pn.pane.Str("Next series to viewport"), picker)

    def _activity(self) -> pn.viewable.Viewable:
        """"Working..." while reader actions run; ``data-busy`` and ``data-done`` carry
        the counters for scripts and browser tests."""
        def show(busy: int, done: int) -> str:
            text = "Working\u2026" if busy else ""
            return f'<span class="wb-activity" data-busy="{busy}" data-done="{done}">{text}</span>'
        return pn.pane.HTML(pn.bind(show, self.param.busy, self.param.done), width=90,
                            styles={"color": "#475569"})

    def study_page(self) -> pn.viewable.Viewable:
        """Series cards on the left, the viewport grid on the right."""
        back = pn.widgets.Button(label="\u2190 Worklist", width=100)
        back.on_click(lambda _: self.back())
        toolbar = pn.Row(
            back,
            pn.widgets.RadioButtonGroup.from_param(self.param.layout, label="Layout",
                                                   color="light"),
            self._viewport_picker(),
            self._activity(),
            pn.pane.Str(self.param.message, styles={"color": "#b91c1c"}))
        hanging = [] if self.hanging is None else [self.hanging.toolbar()]
        images = pn.Column(toolbar, *hanging, self.grid, sizing_mode="stretch_both")
        main = images if self.report is None else pn.Tabs(  # dynamic: only the shown tab
            ("Images", images), ("Report", self.report), dynamic=True,   # is in the page
            sizing_mode="stretch_both")
        side = self.browser if self.hanging is None else self.hanging.sidebar(self.browser)
        return pn.Row(side, main, sizing_mode="stretch_both")

    def __panel__(self) -> pn.viewable.Viewable:
        pages = {"worklist": self.worklist_page(), "study": self.study_page()}
        main = pn.Column(pages[self.page], sizing_mode="stretch_both")
        self.param.watch(lambda e: setattr(main, "objects", [pages[e.new]]), "page")
        return main
