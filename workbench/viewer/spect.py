# mypy: disable-error-code="no-untyped-call"
# (Panel, param and Bokeh constructors are untyped: the one relaxation of mypy strict here.)
"""The Gated SPECT dashboard: what QGS/QPS show, from :mod:`workbench.spect`.

``SpectDashboard(source)`` analyses a stress/rest gated myocardial perfusion study and
shows, for each set: short-axis, vertical and horizontal long-axis slice rows of the gate
chosen (a cine player steps through the gates) with the endocardial and epicardial
contours; the perfusion polar maps (stress, rest, reversibility) with the 17-segment
scores; wall motion, thickening and phase polar maps with segment values; the volume
curves, the phase histograms and the results table (EDV, ESV, SV, LVEF, PFR, TTPF, mass,
summed scores, extent, phase indices; SSS, SRS, SDS, TID, ischaemic extent). The reader
corrects a set's long axis (tilting its apex anterior/inferior and septal/lateral, moving
its origin sideways) and its valve plane (mm towards the apex or the atria) and applies
them: that set is analysed again and everything shown follows. With "Edit contours" on,
a click on a slice says "the endocardium of the gate shown passes here": that set's wall
bends to the point (:mod:`workbench.spect.contour_edit`) and is analysed again; "Reset
contours" returns to the detected walls. "Send to report" and
"Export SR" (:mod:`workbench.viewer.spect_export`) put the results into the study's
nuclear cardiology report and store them as a TID 1500 SR; both need a study UID with
``client=``, the report also ``reports=`` (a :class:`~workbench.viewer.report_api.ReportApi`
as the reader; the reading app passes its own).

``source`` is a study UID with ``client=`` (any
:class:`~workbench.dicomweb.client_base.ArchiveClient`: the reading app passes the
reader's), files or folders (``rest=`` for a rest set given apart), or volumes
(:func:`workbench.spect.volume.make_volume` arrays, or numpy arrays with ``affine=``).
The analysis runs on a worker thread while a progress bar says what it is doing; in a
script without an event loop (or with ``background=False``) it runs before the
constructor returns. The numbers shown are :func:`workbench.spect.report.summary_table`'s,
so they are those ``workbench spect analyze --json`` prints.

Coordinates: slice mosaics and contours follow :mod:`workbench.spect.display` (row 0 at
the top); bull's-eyes have the apex in the centre, anterior up and septal on the left.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d
from bokeh.models.annotations import ColorBar, Span
from bokeh.palettes import Inferno256, Turbo256
from bokeh.plotting import figure

from workbench.dicomweb.client_base import ArchiveClient
from workbench.errors import WorkbenchError
from workbench.spect.analysis import LvAnalysis, StudyAnalysis
from workbench.spect.contour_edit import ContourEdit, edit_offsets
from workbench.spect.display import (
    SLICE_COUNTS,
    STATES,
    VIEWS,
    DisplayData,
    SliceRow,
    bullseye,
    display_data,
    reversibility_map,
    segment_anchor,
    segment_outlines,
)
from workbench.spect.polar import PolarMap
from workbench.spect.reorient import shifted, tilted
from workbench.spect.report import study_summary, summary_table
from workbench.spect.scores import NormalLimits
from workbench.spect.study import Source, is_gated_spect, load_sets
from workbench.viewer.report_api import ReportApi
from workbench.viewer.spect_export import SpectExport
from workbench.viewer.viewers import link_params

__all__ = ["SpectDashboard", "is_gated_spect", "results_html"]

_VIEW_NAMES = {"sa": "SA", "vla": "VLA", "hla": "HLA"}
_COLOURS = {"stress": "#dc2626", "rest": "#2563eb"}
_SCALE = 2.5
"""Screen pixels per slice pixel."""
_FUNCTION_MAPS = (("motion", "Wall motion", "mm", 0.0, 15.0),
                  ("thickening", "Thickening", "%", 0.0, 100.0),
                  ("phase", "Phase", "deg", 0.0, 360.0))  # fmt: skip
"""Functional polar maps: name, title, unit, colour scale."""


def _bare(fig: Any) -> Any:
    fig.axis.visible = False
    fig.grid.visible = False
    fig.outline_line_color = None
    return fig


class _SliceFigure:
    """One view of one set: a mosaic image and the two contours."""

    def __init__(self, state: str, view: str) -> None:
        self.image = ColumnDataSource({"image": [np.zeros((1, 1))]})
        self.endo = ColumnDataSource({k: [] for k in ("x0", "y0", "x1", "y1")})
        self.epi = ColumnDataSource({k: [] for k in ("x0", "y0", "x1", "y1")})
        self.mapper = LinearColorMapper(palette=Inferno256, low=0.0, high=1.0)
        tiles = SLICE_COUNTS[view]  # type: ignore[index]
        self.fig = _bare(figure(title=f"{_VIEW_NAMES[view]} {state}", tools="",
                                toolbar_location=None, x_range=Range1d(start=0, end=tiles),
                                y_range=Range1d(start=1, end=0), width=int(tiles * 38 * _SCALE),
                                height=int(38 * _SCALE) + 28, min_border=0,
                                css_classes=[f"wb-spect-{view}-{state}"]))  # fmt: skip
        self.fig.image(image="image", x=0, y=0, dw=tiles, dh=1, color_mapper=self.mapper,
                       source=self.image)  # fmt: skip
        self.glyph = self.fig.renderers[0].glyph
        for source, colour in ((self.endo, "#22d3ee"), (self.epi, "#a3e635")):
            self.fig.segment(x0="x0", y0="y0", x1="x1", y1="y1", source=source,
                             line_color=colour, line_width=1.5)  # fmt: skip
        self.pane = pn.pane.Bokeh(self.fig)

    def setup(self, row: SliceRow) -> None:
        """Size the figure for `row` and set its colour scale (whole cycle's maximum)."""
        w, h = row.images.shape[2], row.images.shape[1]
        self.fig.x_range.end, self.fig.y_range.start = w, h
        self.fig.width, self.fig.height = int(w * _SCALE), int(h * _SCALE) + 28
        self.glyph.dw, self.glyph.dh = w, h
        self.mapper.high = max(float(np.percentile(row.images, 99.9)), 1e-9)

    def show(self, row: SliceRow, gate: int, contours: bool) -> None:
        """Show `gate` of `row` (its own gate number) with or without contours."""
        self.image.data = {"image": [row.images[gate]]}
        for source, segs in ((self.endo, row.endo[gate]), (self.epi, row.epi[gate])):
            segs = segs if contours else np.empty((0, 4))
            source.data = {k: segs[:, i] for i, k in enumerate(("x0", "y0", "x1", "y1"))}


class _PolarFigure:
    """A bull's-eye with segment outlines, segment labels and a colour bar."""

    def __init__(self, title: str, css: str, low: float, high: float) -> None:
        self.image = ColumnDataSource({"image": [np.full((1, 1), np.nan)]})
        self.labels = ColumnDataSource({"x": [], "y": [], "text": []})
        self.mapper = LinearColorMapper(palette=Turbo256, low=low, high=high,
                                        nan_color=(0, 0, 0, 0))  # fmt: skip
        self.fig = _bare(figure(title=title, tools="", toolbar_location=None, width=270,
                                height=235, x_range=Range1d(start=-1.05, end=1.05),
                                y_range=Range1d(start=-1.05, end=1.05), min_border=0,
                                css_classes=[css]))  # fmt: skip
        self.fig.image(image="image", x=-1, y=-1, dw=2, dh=2, color_mapper=self.mapper,
                       source=self.image)  # fmt: skip
        for x, y in segment_outlines():
            self.fig.line(x, y, line_color="#f8fafc", line_width=1)
        self.fig.text(x="x", y="y", text="text", source=self.labels, text_align="center",
                      text_baseline="middle", text_font_size="8pt", text_color="#111827",
                      background_fill_color="#f8fafc", background_fill_alpha=0.65)  # fmt: skip
        self.fig.add_layout(ColorBar(color_mapper=self.mapper, width=8), "right")
        self.pane = pn.pane.Bokeh(self.fig)

    def show(self, pmap: PolarMap | None, labels: Sequence[str] = ()) -> None:
        """Show `pmap` (None: nothing) with one label per AHA segment 1-17."""
        image = np.full((1, 1), np.nan) if pmap is None else bullseye(pmap)
        self.image.data = {"image": [image]}
        anchors = [segment_anchor(s) for s in range(1, 18)] if labels else []
        self.labels.data = {"x": [a[0] for a in anchors], "y": [a[1] for a in anchors],
                            "text": list(labels)}  # fmt: skip


def _fraction(times: Sequence[float], rr: float | None) -> list[float]:
    return [t / rr for t in times] if rr else list(times)


def results_html(study: StudyAnalysis) -> str:
    """The results table as HTML (every text escaped), from
    :func:`~workbench.spect.report.summary_table` and
    :func:`~workbench.spect.report.study_summary`."""
    table = summary_table(study)
    e = html.escape
    head = "<tr><th></th><th>Stress</th><th>Rest</th></tr>"
    body = "".join(
        f'<tr data-quantity="{e(str(label))}"><th>{e(str(label))}</th>'
        f'<td data-state="stress">{e(row["stress"])}</td>'
        f'<td data-state="rest">{e(row["rest"])}</td></tr>' for label, row in table.iterrows())
    study_rows = "".join(f'<tr data-quantity="{e(k)}"><th>{e(k)}</th><td>{e(v)}</td></tr>'
                         for k, v in study_summary(study).items())  # fmt: skip
    return (f'<table class="wb-spect-table"><thead>{head}</thead><tbody>{body}</tbody></table>'
            f'<table class="wb-spect-table wb-spect-study"><tbody>{study_rows}</tbody></table>'
            f"<p>Normal limits: {e(study.normals_source)}</p>{_edited_note(study)}")


def _edited_note(study: StudyAnalysis) -> str:
    """A line naming the sets whose contours the reader edited (empty if none)."""
    edited = [s for s in STATES
              if (a := getattr(study, s)) is not None and a.segmentation.edited]
    return (f'<p class="wb-spect-edited">Contours edited by the reader: {", ".join(edited)}</p>'
            if edited else "")


_TABLE_CSS = """
.wb-spect-table { border-collapse: collapse; margin-bottom: 8px; font-size: 13px; }
.wb-spect-table th, .wb-spect-table td { padding: 2px 10px; border-bottom: 1px solid #e5e7eb;
  text-align: right; }
.wb-spect-table th:first-child { text-align: left; font-weight: 500; }
"""


class SpectDashboard(pn.viewable.Viewer):
    """The Gated SPECT dashboard (module docstring); display it, or serve it with Panel.

    Examples
    --------
    >>> from workbench.spect.phantom import PhantomSpec, make_phantom
    >>> ph = make_phantom(PhantomSpec(seed=1))
    >>> dash = SpectDashboard(ph.counts, affine=ph.affine, background=False)
    >>> dash.progress, abs(dash.data.study.stress.curve.ef_pct - ph.truth.ef_pct) < 5
    (100, True)
    """

    gate = param.Integer(default=0, bounds=(0, None), doc="""
        Gate shown in the slice rows (of the set with most gates; others follow in
        proportion). The cine player steps it.""")
    contours = param.Boolean(default=True, doc="Draw the endo- and epicardial contours.")
    progress = param.Integer(default=0, bounds=(0, 100), doc="Percent of the work done.")
    status = param.String(default="", doc="What the dashboard is doing, or why it failed.")
    busy = param.Boolean(default=False, doc="True while loading and analysing.")
    data = param.ClassSelector(class_=DisplayData, default=None, allow_None=True, doc="""
        The results shown (None until the analysis has finished).""")
    axis_set: param.Selector[str] = param.Selector(default="stress", objects=list(STATES), doc="""
        The set whose long axis the tilt controls correct.""")
    tilt_anterior_deg = param.Number(default=0.0, bounds=(-30.0, 30.0), step=1.0, doc="""
        Tilt of the apex towards anterior (negative: inferior) applied by ``reorient``.""")
    tilt_septal_deg = param.Number(default=0.0, bounds=(-30.0, 30.0), step=1.0, doc="""
        Tilt of the apex towards septal (negative: lateral) applied by ``reorient``.""")
    origin_anterior_mm = param.Number(default=0.0, bounds=(-15.0, 15.0), step=1.0, doc="""
        Move of the axis origin towards anterior (negative: inferior) applied by
        ``reorient`` (``reorient.shifted``).""")
    origin_septal_mm = param.Number(default=0.0, bounds=(-15.0, 15.0), step=1.0, doc="""
        Move of the axis origin towards septal (negative: lateral) applied by ``reorient``.""")
    valve_shift_mm = param.Number(default=0.0, bounds=(-20.0, 20.0), step=1.0, doc="""
        Valve plane of ``axis_set``: mm from the detected plane towards the apex (negative:
        towards the atria), applied by ``reorient``; shows the set's current value.""")
    edit_contours = param.Boolean(default=False, doc="""
        Whether a click on a slice edits the contour (``edit_contour``).""")

    def __init__(self, source: Source | None = None, *, rest: Source | None = None,
                 client: ArchiveClient | None = None, affine: npt.ArrayLike | None = None,
                 analysis: StudyAnalysis | None = None, normals: NormalLimits | None = None,
                 resolution_fwhm_mm: float | None = None, background: bool = True,
                 reports: ReportApi | None = None, **params: Any) -> None:  # fmt: skip
        super().__init__(**params)
        if source is None and rest is None:
            raise ValueError("SpectDashboard needs a source: a study UID with client=, "
                             "files or folders, or volumes")  # fmt: skip
        self._load = lambda: load_sets(source, rest=rest, client=client, affine=affine)
        self._volumes: tuple[Any, Any] | None = None
        self._background = background
        self._options: dict[str, Any] = {"analysis": analysis, "normals": normals,
                                         "resolution_fwhm_mm": resolution_fwhm_mm}  # fmt: skip
        self._doc = pn.state.curdoc  # the served session's document, None in a notebook
        study_uid = source if isinstance(source, str) and client is not None else None
        self.export = SpectExport(lambda: None if self.data is None or self.busy
                                  else self.data.study,  # what is shown, once settled
                                  self._series_uids, study_uid=study_uid, reports=reports,
                                  client=client)  # fmt: skip
        self._build()
        self.param.watch(self._show, "data")
        self.param.watch(self._show_valve, ["axis_set", "data"])
        self.param.watch(self._show_gate, ["gate", "contours"])
        self.busy, self.status = True, "Waiting to analyse..."
        if background:
            pn.state.execute(self.analyze)
        else:
            self.analyze_now()

    # -- work ---------------------------------------------------------------------------
    def _run(self, progress: Callable[[str, float], None]) -> DisplayData:
        if self._volumes is None:
            progress("loading the study", 0.0)
            self._volumes = self._load()
        return display_data(*self._volumes, progress=progress, **self._options)

    def _series_uids(self) -> list[str]:
        volumes = self._volumes or (None, None)
        return [str(v.attrs["series_uid"]) for v in volumes
                if v is not None and v.attrs.get("series_uid")]  # fmt: skip

    def _show_valve(self, *_: Any) -> None:
        """Show the valve-plane shift ``axis_set`` is analysed with."""
        a = None if self.data is None else getattr(self.data.study, self.axis_set)
        self.valve_shift_mm = 0.0 if a is None else a.segmentation.valve_shift_mm

    def reorient(self) -> None:
        """Apply the tilt, origin and valve-plane controls to ``axis_set`` and analyse again
        (both sets keep their current axes and valve planes otherwise); tilt and origin
        controls return to zero, the valve plane control keeps its value."""
        data = self.data
        if data is None or self.busy:
            return
        axes = {s: None if a is None else a.long_axis
                for s, a in (("stress", data.study.stress), ("rest", data.study.rest))}
        current = axes[self.axis_set]
        if current is None:
            self.status = f"There is no {self.axis_set} set to reorient."
            return
        axes[self.axis_set] = shifted(tilted(current, self.tilt_anterior_deg,
                                             self.tilt_septal_deg),
                                      self.origin_anterior_mm, self.origin_septal_mm)
        shifts = {f"{s}_valve_shift_mm": 0.0 if a is None else a.segmentation.valve_shift_mm
                  for s, a in (("stress", data.study.stress), ("rest", data.study.rest))}
        shifts[f"{self.axis_set}_valve_shift_mm"] = float(self.valve_shift_mm)
        edits = {f"{s}_wall_offsets_mm": None if a is None else a.segmentation.wall_offsets_mm
                 for s, a in (("stress", data.study.stress), ("rest", data.study.rest))}
        if any((self.tilt_anterior_deg, self.tilt_septal_deg, self.origin_anterior_mm,
                self.origin_septal_mm)):  # contour edits belong to the grid of one axis
            edits[f"{self.axis_set}_wall_offsets_mm"] = None
        self._options.update(analysis=None, stress_axis=axes["stress"], rest_axis=axes["rest"],
                             **shifts, **edits)  # fmt: skip
        self.param.update(tilt_anterior_deg=0.0, tilt_septal_deg=0.0, origin_anterior_mm=0.0,
                          origin_septal_mm=0.0, busy=True,
                          status="Analysing with the corrected axis and valve plane...")
        if self._background:
            pn.state.execute(self.analyze)
        else:
            self.analyze_now()

    def edit_contour(self, state: str, view: str, x: float, y: float) -> None:
        """The endocardium of the gate shown in `state`'s `view` row passes through mosaic
        position ``(x, y)`` (pixel units, row 0 at the top): bend that set's wall there
        and analyse it again (both axes kept). A point the edit cannot use (off the LV,
        below the valve plane, too far) leaves everything as it was and says why."""
        data = self.data
        analysed = None if data is None else getattr(data.study, state)
        row = None if data is None else data.rows.get((state, view))
        if self.busy or analysed is None or row is None:
            return
        seg = analysed.segmentation
        gate = self.gate * row.n_gates // self._gates() if seg.gates else None
        try:
            offsets = edit_offsets(seg, ContourEdit(row.point_mm(x, y), gate))
        except ValueError as exc:
            self.status = f"Contour not changed: {exc}"
            return
        self._analyse_again({f"{state}_wall_offsets_mm": offsets},
                            f"Analysing the {state} set with the edited contour...")

    def reset_contours(self) -> None:
        """Drop the contour edits of both sets and analyse again."""
        if self.data is None or self.busy:
            return
        self._analyse_again({"stress_wall_offsets_mm": None, "rest_wall_offsets_mm": None},
                            "Analysing with the detected contours...")

    def _analyse_again(self, changes: dict[str, Any], status: str) -> None:
        """Analyse again with both sets' current axes and valve planes, plus `changes`."""
        study = self.data.study if self.data is not None else None
        if study is None:
            return
        for state in STATES:
            a = getattr(study, state)
            if a is not None:
                self._options[f"{state}_axis"] = a.long_axis
                self._options[f"{state}_valve_shift_mm"] = a.segmentation.valve_shift_mm
                self._options[f"{state}_wall_offsets_mm"] = a.segmentation.wall_offsets_mm
        self._options.update(analysis=None, **changes)
        self.param.update(busy=True, status=status)
        if self._background:
            pn.state.execute(self.analyze)
        else:
            self.analyze_now()

    def _tapped(self, state: str, view: str, event: Any) -> None:
        if self.edit_contours and event.x is not None and event.y is not None:
            self.edit_contour(state, view, float(event.x), float(event.y))

    def _report(self, what: str, done: float) -> None:
        self.param.update(status=f"{what[:1].upper()}{what[1:]}...", progress=int(100 * done))

    def _failed(self, exc: Exception) -> None:
        self.param.update(busy=False, progress=0, status=f"Gated SPECT analysis failed: {exc}")

    def analyze_now(self) -> None:
        """Load and analyse on this thread (what the constructor does without a loop)."""
        try:
            data = self._run(self._report)
        except (WorkbenchError, ValueError, OSError) as exc:
            self._failed(exc)
            return
        self.data = data

    async def analyze(self) -> None:
        """Load and analyse on a worker thread, reporting progress on this event loop."""
        loop = asyncio.get_running_loop()

        def progress(what: str, done: float) -> None:
            loop.call_soon_threadsafe(self._report, what, done)

        try:
            data = await asyncio.to_thread(self._run, progress)
        except (WorkbenchError, ValueError, OSError) as exc:
            self._failed(exc)
            return
        await asyncio.sleep(0)  # let the last progress reports land first
        self.data = data

    # -- display ------------------------------------------------------------------------
    def _build(self) -> None:
        self._slices = {(s, v): _SliceFigure(s, v) for s in STATES for v in VIEWS}
        for (state, view), fig in self._slices.items():
            fig.fig.on_event(Tap, partial(self._tapped, state, view))
        self._perfusion = {
            "stress": _PolarFigure("Stress perfusion", "wb-spect-polar-stress", 0.0, 1.0),
            "rest": _PolarFigure("Rest perfusion", "wb-spect-polar-rest", 0.0, 1.0),
            "reversibility": _PolarFigure("Reversibility", "wb-spect-polar-reversibility",
                                          0.0, 0.5)}  # fmt: skip
        self._function = {(s, name): _PolarFigure(f"{title} {s} ({unit})", f"wb-spect-{name}-{s}",
                                                  low, high)
                          for s in STATES for name, title, unit, low, high in _FUNCTION_MAPS}
        self._curve = _bare(figure(title="Volume (mL) over the cycle (fraction of R-R)",
                                   tools="", toolbar_location=None, width=380, height=240,
                                   css_classes=["wb-spect-curve"]))
        self._curve.axis.visible = True
        self._curve_src = {s: (ColumnDataSource({"x": [], "y": []}),
                               ColumnDataSource({"x": [], "y": []})) for s in STATES}  # fmt: skip
        for s, (points, fit) in self._curve_src.items():
            self._curve.scatter("x", "y", source=points, color=_COLOURS[s], size=6, legend_label=s)
            self._curve.line("x", "y", source=fit, color=_COLOURS[s], line_width=1.5,
                             legend_label=s)  # fmt: skip
        self._span = Span(location=0.0, dimension="height", line_color="#6b7280",
                          line_dash="dashed")  # fmt: skip
        self._curve.add_layout(self._span)
        self._curve.legend.location = "bottom_right"
        self._hist = _bare(figure(title="Phase histogram (% of LV per 10 deg)", tools="",
                                  toolbar_location=None, width=380, height=240,
                                  x_range=Range1d(start=0, end=360),
                                  css_classes=["wb-spect-histogram"]))  # fmt: skip
        self._hist.axis.visible = True
        self._hist_src = {s: ColumnDataSource({"x": [], "top": []}) for s in STATES}
        for s, src in self._hist_src.items():
            self._hist.vbar(x="x", top="top", width=10, source=src, fill_color=_COLOURS[s],
                            fill_alpha=0.45, line_color=_COLOURS[s], legend_label=s)  # fmt: skip
        self._plots = [pn.pane.Bokeh(self._curve), pn.pane.Bokeh(self._hist)]
        self._table = pn.pane.HTML("", css_classes=["wb-spect-results"],
                                   stylesheets=[_TABLE_CSS], min_width=300)  # fmt: skip
        self._player = pn.widgets.Player(label="Gate", start=0, end=1, value=0, interval=200,
                                         loop_policy="loop", show_loop_controls=False,
                                         width=320)  # fmt: skip
        link_params(self, self._player, {"gate": "value"})
        self._layout = self._arrange()

    def _arrange(self) -> pn.viewable.Viewable:
        sl, pf, fn = self._slices, self._perfusion, self._function
        header = pn.Row(
            pn.pane.Markdown("### Gated SPECT", margin=(0, 10)),
            pn.indicators.Progress(value=self.param.progress, max=100, width=200,
                                   visible=self.param.busy, css_classes=["wb-spect-progress"]),
            pn.pane.Str(self.param.status, css_classes=["wb-spect-status"]),
            sizing_mode="stretch_width")  # fmt: skip
        apply = pn.widgets.Button(label="Apply", width=100, css_classes=["wb-spect-axis"])
        apply.on_click(lambda _: self.reorient())
        sliders = [pn.widgets.FloatSlider.from_param(getattr(self.param, name), width=150,
                                                     label=label)
                   for name, label in (("tilt_anterior_deg", "Tilt anterior (deg)"),
                                       ("tilt_septal_deg", "Tilt septal (deg)"),
                                       ("origin_anterior_mm", "Origin anterior (mm)"),
                                       ("origin_septal_mm", "Origin septal (mm)"),
                                       ("valve_shift_mm", "Valve plane to apex (mm)"))]
        axis = pn.Row(
            pn.widgets.RadioButtonGroup.from_param(self.param.axis_set, label="Axis of"),
            *sliders, apply)  # fmt: skip
        reset = pn.widgets.Button(label="Reset contours", width=120,
                                  css_classes=["wb-spect-reset-contours"])
        reset.on_click(lambda _: self.reset_contours())
        controls = pn.Column(
            pn.Row(self._player, pn.widgets.Checkbox.from_param(self.param.contours),
                   pn.widgets.Toggle.from_param(self.param.edit_contours, name="Edit contours",
                                                width=120, css_classes=["wb-spect-edit"]),
                   reset),
            axis, self.export.panel)  # fmt: skip
        slices = pn.Column(*(sl[(s, "sa")].pane for s in STATES),
                           pn.Row(sl[("stress", "vla")].pane, sl[("stress", "hla")].pane),
                           pn.Row(sl[("rest", "vla")].pane, sl[("rest", "hla")].pane))
        function = pn.Column(*(pn.Row(*(fn[(s, name)].pane for name, *_ in _FUNCTION_MAPS))
                               for s in STATES))  # fmt: skip
        return pn.Column(
            header, controls, pn.Row(slices, self._table),
            pn.Row(*(p.pane for p in pf.values())), function,
            pn.Row(*self._plots),
            css_classes=["wb-spect"])  # fmt: skip

    def _gates(self) -> int:
        rows = (self.data.rows if self.data else {}).values()
        return max((r.n_gates for r in rows), default=1)

    def _apply(self, change: Callable[[], None]) -> None:
        """Run `change` (which edits Bokeh models in place) where that is allowed: in a
        served session under the document's lock (next tick); in a notebook now, then
        push the figures to the page."""
        doc = self._doc
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(change)
            return
        change()
        pn.io.push_notebook(*self._panes())

    def _show(self, _: Any = None) -> None:
        if self.data is not None:
            n = self._gates()
            self._player.end = max(n - 1, 1)
            self.param.gate.bounds = (0, max(n - 1, 0))
            self.gate = min(self.gate, n - 1)
            self._apply(self._draw)

    def _draw(self) -> None:
        data = self.data
        if data is None:
            return
        study = data.study
        for key, fig in self._slices.items():
            row = data.rows.get(key)
            fig.pane.visible = row is not None
            if row is not None:
                fig.setup(row)
        sets = {"stress": (study.stress, study.stress_scores),
                "rest": (study.rest, study.rest_scores)}  # fmt: skip
        for state, (a, scores) in sets.items():
            self._perfusion[state].show(None if a is None else a.perfusion,
                                        [str(v) for v in scores.scores] if scores else [])
            self._show_function(state, a)
        if study.stress and study.rest:
            self._perfusion["reversibility"].show(
                reversibility_map(study.stress.perfusion, study.rest.perfusion),
                [str(v) for v in study.difference_scores or ()])  # fmt: skip
        self._draw_gate()
        self._table.object = results_html(study)
        self.param.update(busy=False, progress=100, status="")

    def _show_function(self, state: str, a: LvAnalysis | None) -> None:
        maps = {"motion": None, "thickening": None, "phase": None} if a is None else {
            "motion": a.motion_map, "thickening": a.thickening_map, "phase": a.phase_map}
        values = {} if a is None else {"motion": a.motion_mm, "thickening": a.thickening_pct}
        for name, pmap in maps.items():
            segs = values.get(name)
            self._function[(state, name)].show(pmap, [f"{v:.0f}" for v in segs] if segs else [])
        curve, phase = (a.curve, a.phase) if a else (None, None)
        points, fit = self._curve_src[state]
        if curve is None:
            points.data, fit.data = {"x": [], "y": []}, {"x": [], "y": []}
        else:
            rr = curve.rr_interval_ms
            points.data = {"x": _fraction(curve.time_ms, rr), "y": list(curve.volumes_ml)}
            fit.data = {"x": _fraction(curve.fit_time_ms, rr), "y": list(curve.fit_volumes_ml)}
        if phase is None:
            self._hist_src[state].data = {"x": [], "top": []}
        else:
            hist = np.asarray(phase.histogram).reshape(36, 10).sum(axis=1)
            self._hist_src[state].data = {"x": list(np.arange(36) * 10.0 + 5.0),
                                          "top": list(100.0 * hist)}  # fmt: skip

    def _show_gate(self, *_: Any) -> None:
        if self.data is not None:
            self._apply(self._draw_gate)

    def _draw_gate(self) -> None:
        if self.data is None:
            return
        n = self._gates()
        for key, fig in self._slices.items():
            row = self.data.rows.get(key)
            if row is not None:
                fig.show(row, self.gate * row.n_gates // n, self.contours)
        self._span.location = (self.gate + 0.5) / n

    def _panes(self) -> list[pn.pane.Bokeh]:
        panes = [f.pane for f in self._slices.values()] + self._plots
        return panes + [f.pane for f in (*self._perfusion.values(), *self._function.values())]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
