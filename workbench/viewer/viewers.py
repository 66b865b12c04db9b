# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""The viewers as param objects: state in parameters, layout in ``__panel__``.

Tests and notebooks drive them without a browser (set ``slice``, ``window``,
``preset``); in a page, each keeps its parameters and its browser component's in step
both ways, so what the reader does in the browser shows up here.

Index conventions: ``slice`` is zero-based in the display order of
:class:`~workbench.viewer.series.SeriesDisplay` (by position along the slice normal
for stacks, by frame for cine loops), or of the reformatted plane shown
(``orientation``, :class:`~workbench.viewer.mpr.ReformatPlane`); ``selection`` is a
voxel ``(slice, row, col)`` of the acquired stack whatever the plane shown; windows
are in modality units (HU for CT).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import panel as pn
import param

from workbench.imaging.presets import WindowPreset
from workbench.viewer.components import ImageView
from workbench.viewer.mpr import ReformatPlane
from workbench.viewer.series import SeriesDisplay, SeriesKind

__all__ = ["CineViewer", "SliceViewer", "link_params"]


def link_params(source: param.Parameterized, target: param.Parameterized,
                names: dict[str, str]) -> None:
    """Keep parameters of two objects equal both ways (``{source name: target name}``).

    Setting an equal value triggers nothing in param, so the two watchers cannot loop.
    """
    def forward(*events: param.parameterized.Event) -> None:
        target.param.update({names[e.name]: e.new for e in events})

    back = {v: k for k, v in names.items()}

    def backward(*events: param.parameterized.Event) -> None:
        source.param.update({back[e.name]: e.new for e in events})

    target.param.update({names[name]: getattr(source, name) for name in names})
    source.param.watch(forward, list(names))
    target.param.watch(backward, list(back))


class SliceViewer(param.Parameterized):
    """The static viewer: scroll through a series, window/level, zoom, pan, invert.

    Parameters are linked to an :class:`~workbench.viewer.components.ImageView`
    (``view``), which draws in the browser. Changing ``series`` resets the slice to
    the first, the window to the dataset's (or ``None``: the browser then picks one
    from the pixels) and the zoom.

    Examples
    --------
    >>> from workbench.imaging.presets import presets_for
    >>> from workbench.viewer.series import Frame, PixelFormat, SeriesDisplay, SeriesKind
    >>> display = SeriesDisplay("1.2", "1.2.3", "CT", SeriesKind.IMAGE,
    ...                         frames=tuple(Frame(f"1.2.3.{k}", 1) for k in range(3)),
    ...                         formats=(PixelFormat(4, 4),), presets=presets_for("CT"))
    >>> viewer = SliceViewer(series=display)
    >>> viewer.preset = "lung"
    >>> viewer.level, viewer.window
    (-600, 1500)
    >>> viewer.slice = 2
    >>> viewer.view.index
    2
    """

    series = param.ClassSelector(class_=SeriesDisplay, default=None, allow_None=True, doc="""
        The series shown (see :func:`workbench.viewer.series.describe_series`).""")
    slice = param.Integer(default=0, bounds=(0, None), doc="""
        Displayed image, zero-based in display order.""")
    window = param.Number(default=None, allow_None=True, bounds=(1e-6, None), doc="""
        Window width in modality units (``None``: chosen from the pixels).""")
    level = param.Number(default=None, allow_None=True, doc="""
        Window centre in modality units (``None``: chosen from the pixels).""")
    preset: param.Selector[str] = param.Selector(default="", objects=[""], doc="""
        Name of a window preset of the series (dataset windows, then the modality's
        usual ones); choosing one sets ``window`` and ``level``.""")
    invert = param.Boolean(default=False, doc="Invert the grey scale.")
    zoom = param.Number(default=1.0, bounds=(0.1, 40), doc="Magnification; 1 fits the view.")
    tool: param.Selector[str] = param.Selector(
        default="window", objects=["window", "pan", "zoom", "scroll"], doc="""
        What dragging with the left mouse button does.""")
    orientation: param.Selector[str] = param.Selector(
        default="acquired", objects=["acquired"], doc="""
        The images shown: ``"acquired"``, or ``"axial"``, ``"coronal"``, ``"sagittal"``
        cut by the browser from a stack that forms a regular volume (``series.planes``).
        Choosing a plane shows its middle image (or the one holding ``selection``).""")
    selection = param.Tuple(default=None, allow_None=True, length=3, doc="""
        ``(slice, row, col)``, zero-based, of the acquired stack: the pixel the reader
        last clicked (a click without dragging), marked with a cross. Setting it shows
        that pixel's image in the current plane.""")
    dicomweb_root = param.String(default="/dicom-web", doc="""
        The DICOMweb root as the browser reaches it (same origin by default).""")
    headers = param.Dict(default={}, doc="Extra request headers for the browser's fetches.")

    _links = {"slice": "index", "window": "window_width", "level": "window_center",
              "invert": "invert", "zoom": "zoom", "tool": "tool"}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.view = ImageView(headers=self.headers)
        link_params(self, self.view, self._links)
        self.param.watch(self._series_changed, "series")
        self.param.watch(self._preset_chosen, "preset")
        self.param.watch(self._orientation_chosen, "orientation")
        self.param.watch(self._selection_set, "selection")
        self.view.param.watch(self._selected_in_browser, "selected")
        self._acquired_slice = 0
        self.tool_controls: list[Any] = []
        """More toolbar widgets (the measurement tools' add theirs), set before display."""
        self.param.watch(lambda e: setattr(self.view, "headers", e.new), "headers")
        if self.series is not None:
            self._show(self.series)

    # -- state -------------------------------------------------------------------------
    @property
    def presets(self) -> tuple[WindowPreset, ...]:
        """The window presets of the current series, in menu order."""
        return () if self.series is None else self.series.presets

    @property
    def count(self) -> int:
        """Number of images in the series, or in the plane shown."""
        return self._count(self.orientation)

    @property
    def plane(self) -> ReformatPlane | None:
        """The reformatted plane shown (None: the acquired images)."""
        if self.series is None:
            return None
        return self.series.planes.get(self.orientation)

    @property
    def selection_mm(self) -> tuple[float, float, float] | None:
        """Patient coordinates (LPS, mm) of ``selection``; None without a selection or
        when the series does not form a volume."""
        if self.selection is None or self.series is None or self.series.geometry is None:
            return None
        x, y, z = (float(v) for v in self.series.geometry.voxel_to_patient(
            np.asarray(self.selection, dtype=np.float64)))
        return x, y, z

    def _count(self, orientation: str) -> int:
        if self.series is None:
            return 0
        plane = self.series.planes.get(orientation)
        return plane.shape[0] if plane is not None else len(self.series.frames)

    def _displayed(self, voxel: tuple[int, int, int] | None,
                   orientation: str) -> tuple[int, int, int] | None:
        """``voxel`` of the acquired stack as ``(index, row, col)`` of `orientation`."""
        plane = None if self.series is None else self.series.planes.get(orientation)
        if voxel is None or plane is None:
            return voxel
        return plane.from_volume(voxel)

    def _orientation_chosen(self, event: param.parameterized.Event) -> None:
        if event.old == "acquired":
            self._acquired_slice = self.slice
        count = self._count(event.new)
        self.param.slice.bounds = (0, max(0, count - 1))
        shown = self._displayed(self.selection, event.new)
        if shown is not None:
            index = shown[0]
        elif event.new == "acquired":
            index = min(self._acquired_slice, max(0, count - 1))
        else:
            index = count // 2
        self.view.param.update(orientation=event.new, index=index,
                               selected=[] if shown is None else list(shown))
        self.slice = index

    def _selection_set(self, event: param.parameterized.Event) -> None:
        shown = self._displayed(event.new, self.orientation)
        if shown is None:
            self.view.selected = []
            return
        if not 0 <= shown[0] < self.count:
            raise ValueError(f"selection {event.new} lies outside the series")
        self.view.selected = list(shown)
        self.slice = shown[0]

    def _selected_in_browser(self, event: param.parameterized.Event) -> None:
        if len(event.new) != 3:
            self.selection = None
            return
        index, row, col = (int(v) for v in event.new)
        plane = self.plane
        self.selection = (index, row, col) if plane is None else plane.to_volume((index, row, col))

    def _series_changed(self, event: param.parameterized.Event) -> None:
        if event.new is not None:
            self._show(event.new)

    def _show(self, series: SeriesDisplay) -> None:
        names = [""] + [p.name for p in series.presets]
        self.param.preset.objects = list(dict.fromkeys(names))
        self.param.orientation.objects = ["acquired", *series.planes]
        self.param.slice.bounds = (0, max(0, len(series.frames) - 1))
        window = series.window
        initial = {"slice": 0, "preset": "", "zoom": 1.0, "orientation": "acquired",
                   "selection": None,
                   "window": None if window is None else window.width,
                   "level": None if window is None else window.center}
        self._acquired_slice = 0
        self.view.param.update(series=series.to_js(self.dicomweb_root), index=0,
                               voi_function="LINEAR" if window is None else window.function,
                               pan_x=0.0, pan_y=0.0, orientation="acquired", selected=[])
        self.param.update(initial)

    def _preset_chosen(self, event: param.parameterized.Event) -> None:
        chosen = next((p for p in self.presets if p.name == event.new), None)
        if chosen is not None:
            self.view.voi_function = chosen.function
            self.param.update(window=chosen.width, level=chosen.center)

    def reset(self) -> None:
        """Back to the series' initial window, first image, no zoom or pan."""
        if self.series is not None:
            self._show(self.series)

    def step(self, delta: int) -> None:
        """Move ``delta`` images (clamped to the series)."""
        self.slice = min(max(0, self.slice + delta), max(0, self.count - 1))

    # -- layout ------------------------------------------------------------------------
    def _controls(self) -> list[Any]:
        reset = pn.widgets.Button(label="Reset", color="light", width=80)
        reset.on_click(lambda _: self.reset())
        planes = pn.widgets.RadioButtonGroup.from_param(
            self.param.orientation, label="Plane", color="light", css_classes=["wb-planes"],
            visible=len(self.param.orientation.objects or []) > 1)

        def offer_planes(_: param.parameterized.Event) -> None:
            planes.visible = len(self.param.orientation.objects or []) > 1

        self.param.watch(offer_planes, "series")
        return [
            planes,
            pn.widgets.Select.from_param(self.param.preset, label="Window preset", width=150),
            pn.widgets.RadioButtonGroup.from_param(self.param.tool, label="Left button",
                                                   color="light"),
            pn.widgets.Checkbox.from_param(self.param.invert, label="Invert"),
            reset,
            *self.tool_controls,
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        # with the measurement tools the buttons do not fit one line: let them wrap
        bar = pn.FlexBox if self.tool_controls else pn.Row
        return pn.Column(bar(*self._controls(), sizing_mode="stretch_width"),
                         self.view, sizing_mode="stretch_both", min_height=420)


class CineViewer(SliceViewer):
    """The dynamic viewer for XA and US loops: play, pause, step, speed, loop.

    Playback runs in the browser at the acquisition's frame times (Frame Time,
    Frame Time Vector, ...; :func:`workbench.imaging.cine.frame_times`) times
    ``speed``; ``slice`` (the frame, zero-based) is updated when playback stops.
    """

    playing = param.Boolean(default=False, doc="Whether the loop is playing.")
    speed: param.Selector[float] = param.Selector(
        default=1.0, objects=[0.25, 0.5, 1.0, 2.0, 4.0], doc="""
        Playback speed relative to the acquisition.""")
    loop = param.Boolean(default=True, doc="Start again after the last frame.")
    fps = param.Number(default=None, allow_None=True, constant=True, doc="""
        Acquisition frame rate (frames per second), from the frame times.""")

    _links = {**SliceViewer._links, "playing": "playing", "speed": "speed", "loop": "loop"}

    def _show(self, series: SeriesDisplay) -> None:
        self.playing = False
        with param.edit_constant(self):
            self.fps = series.fps
        super()._show(series)
        self.tool = "window"

    def toggle(self) -> None:
        """Play if paused, pause if playing."""
        self.playing = not self.playing

    def step(self, delta: int) -> None:
        """Pause and move ``delta`` frames, wrapping around when ``loop`` is set."""
        self.playing = False
        if self.count:
            target = self.slice + delta
            self.slice = target % self.count if self.loop else min(max(0, target), self.count - 1)

    def _controls(self) -> list[Any]:
        play = pn.widgets.Toggle.from_param(self.param.playing, label="\u25b6 Play / \u275a\u275a",
                                            color="primary", width=110)
        back = pn.widgets.Button(label="\u25c0 Frame", width=80)
        back.on_click(lambda _: self.step(-1))
        forward = pn.widgets.Button(label="Frame \u25b6", width=80)
        forward.on_click(lambda _: self.step(1))
        speed = pn.widgets.Select.from_param(self.param.speed, label="Speed", width=80)
        loop = pn.widgets.Checkbox.from_param(self.param.loop, label="Loop")
        return [play, back, forward, speed, loop, *super()._controls()]


def viewer_class(kind: SeriesKind) -> type[SliceViewer]:
    """The image viewer class for a series kind (cine loops get :class:`CineViewer`)."""
    return CineViewer if kind is SeriesKind.CINE else SliceViewer
