# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""Browser components: Panel ``JSComponent`` subclasses whose JavaScript lives in ``assets/``.

Each component's parameters are synced both ways with its browser model: Python sets
what to show, the browser reports what the reader did (the slice they scrolled to,
the window they dragged). The browser fetches pixels, waveforms and documents from
the archive itself (same origin, the session cookie; or ``headers`` for a token), so
scrolling and window/level never wait for Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import param
from panel.custom import JSComponent

__all__ = ["ASSETS", "DocumentView", "EcgView", "ImageView", "SessionView", "TableView", "asset"]

ASSETS = Path(__file__).resolve().parent / "assets"
"""Folder of the JavaScript, GLSL and CSS sources (shipped as package data)."""


@cache
def asset(*names: str) -> str:
    """Return the text of the named asset files, joined (one ES module from several)."""
    return "\n".join((ASSETS / name).read_text(encoding="utf-8") for name in names)


class ImageView(JSComponent):  # type: ignore[misc]
    """A WebGL2 viewport (Canvas2D fallback) over the frames of one series.

    The browser applies the modality LUT and the window in the fragment shader
    (``assets/image.frag``); 16-bit pixels travel as 32-bit float textures, exact for
    every stored value. Frames the browser cannot decode are shown as the archive
    renders them (``.../frames/{n}/rendered``).
    """

    series = param.Dict(default={}, doc="""
        The series as :meth:`workbench.viewer.series.SeriesDisplay.to_js` describes it.""")
    index = param.Integer(default=0, bounds=(0, None), doc="""
        Displayed frame, zero-based in display order; the browser sets it when the
        reader scrolls, and after playback stops.""")
    window_center = param.Number(default=None, allow_None=True, doc="""
        Window centre (level) in modality units; ``None`` lets the browser pick one
        from the pixels.""")
    window_width = param.Number(default=None, allow_None=True, bounds=(1e-6, None), doc="""
        Window width in modality units; ``None`` lets the browser pick one.""")
    voi_function: param.Selector[str] = param.Selector(
        default="LINEAR", objects=["LINEAR", "LINEAR_EXACT",
                                                             "SIGMOID"], doc="""
        VOI LUT Function of the window (PS3.3 C.11.2.1.3).""")
    invert = param.Boolean(default=False, doc="Show dark as bright (on top of MONOCHROME1).")
    smooth = param.Boolean(default=True, doc="Interpolate between pixels when magnified.")
    zoom = param.Number(default=1.0, bounds=(0.1, 40), doc="Magnification; 1 fits the view.")
    pan_x = param.Number(default=0.0, doc="Horizontal shift in view widths / 2.")
    pan_y = param.Number(default=0.0, doc="Vertical shift in view heights / 2 (up).")
    tool: param.Selector[str] = param.Selector(
        default="window", objects=["window", "pan", "zoom", "scroll", "select", "length",
                                   "angle", "cobb", "bidirectional", "ellipse", "rectangle",
                                   "freehand", "probe", "arrow", "text", "volume", "brush"],
        doc="""
        What dragging with the left button does (middle: pan, right: zoom); the
        measurement tools draw on the overlay (``assets/annotate.js``); ``volume`` and
        ``brush`` grow and paint a mask (``assets/volume_tool.js``).""")
    playing = param.Boolean(default=False, doc="Cine playback running (in the browser).")
    speed = param.Number(default=1.0, bounds=(0.05, 8), doc="Playback speed, 1 = acquisition.")
    loop = param.Boolean(default=True, doc="Start again after the last frame.")
    headers = param.Dict(default={}, doc="""
        Extra request headers for the browser's fetches (e.g. a bearer token in a
        notebook whose page is not on the archive's origin).""")
    orientation: param.Selector[str] = param.Selector(
        default="acquired", objects=["acquired", "axial", "coronal", "sagittal"], doc="""
        The images shown: as acquired, or a plane the browser cuts from the loaded stack
        (``series["planes"]``, :class:`workbench.viewer.mpr.ReformatPlane`); ``index``
        counts the images of that plane.""")
    selected = param.List(default=[], doc="""
        ``[index, row, col]`` (zero-based, of the displayed images) of the pixel the
        reader last clicked, marked with a cross; empty when nothing is selected.""")
    sync = param.Dict(default={}, doc="""
        Synchronisation with other viewports of the page, done in the browser
        (``assets/hanging.js``): ``{"groups": {"scroll"|"window"|"zoom": token},
        "normals": {"acquired"|"axial"|...: [x, y, z]}}``; viewports sharing a token
        scroll (by patient position along the normals), window or zoom/pan together.""")
    key_images = param.List(default=[], doc="""
        Display indices (zero-based, acquired images) flagged as key: shown with a badge.""")
    touched = param.Integer(default=0, doc="""
        Counts the reader's presses in the viewport (browser): the last one touched is
        the one a key image is flagged in.""")
    annotations = param.List(default=[], doc="""
        Shapes the overlay draws: ``{"id", "kind", "index", "points": [[row, col], ...],
        "text", "editable"}`` (``index`` of the acquired images, zero-based), set by
        :class:`workbench.viewer.annotations.AnnotationController`.""")
    annotation_selected = param.Integer(default=None, allow_None=True, doc="""
        ``id`` of the annotation the reader selected in the browser, or ``None``.""")
    volume_mask = param.Dict(default={}, doc="""
        The volume tool's mask, drawn translucent over each image:
        ``{"rows", "columns", "voxels", "slices": {str(index): [start, length, ...]}}``
        (run-lengths of each acquired image row by row,
        :func:`workbench.viewer.volume_region.mask_overlay`); empty: none.""")
    volume_brush = param.Dict(default={}, doc="""
        The brush: ``{"radius_mm", "erase"}`` (drawn as the pointer's circle).""")
    force_canvas2d = param.Boolean(default=False, doc="Use the Canvas2D renderer.")
    renderer = param.String(default="", doc="Renderer in use, reported by the browser.")
    loaded = param.Integer(default=0, doc="Frames fetched so far, reported by the browser.")
    error = param.String(default="", doc="The last loading error, reported by the browser.")
    vertex_source = param.String(default="", constant=True, doc="Vertex shader (GLSL ES 3).")
    fragment_source = param.String(default="", constant=True, doc="Fragment shader.")

    _esm = asset("pixels.js", "renderer.js", "image_view.js", "mpr.js", "kernel.js", "cine.js",
                 "hanging.js", "annotate.js", "volume_tool.js")
    _stylesheets = [asset("viewer.css"), asset("hanging.css"), asset("annotate.css")]

    def __init__(self, **params: object) -> None:
        params.setdefault("vertex_source", asset("image.vert"))
        params.setdefault("fragment_source", asset("image.frag"))
        params.setdefault("sizing_mode", "stretch_both")
        params.setdefault("min_height", 360)
        super().__init__(**params)
        self.pixel_source: Callable[[Sequence[int]], bytes] | None = None
        """For a kernel series: returns the float32 values of the frames at the given
        display indices, one after the other (row by row, little-endian)."""
        self.annotation_handler: Callable[[dict[str, Any]], None] | None = None
        """Receives the browser's finished shapes (``{"type": "annotation", ...}``)."""
        self.volume_handler: Callable[[dict[str, Any]], None] | None = None
        """Receives the volume tool's seeds and brush strokes (``{"type": "volume", ...}``)."""

    def _handle_msg(self, data: Any) -> None:
        """Answer the browser's request for frames of a kernel series (``kernel.js``);
        pass drawn shapes (``annotate.js``) to ``annotation_handler``."""
        if isinstance(data, dict) and data.get("type") == "annotation":
            if self.annotation_handler is not None:
                self.annotation_handler(data)
            return
        if isinstance(data, dict) and data.get("type") == "volume":
            if self.volume_handler is not None:
                self.volume_handler(data)
            return
        if not isinstance(data, dict) or data.get("type") != "frames":
            return
        indices = [int(k) for k in data.get("indices") or []]
        answer: dict[str, Any] = {"type": "frames", "key": data.get("key"), "indices": indices}
        if self.pixel_source is None:
            answer["error"] = "this viewer has no pixels in the kernel"
        else:
            try:
                answer["data"] = self.pixel_source(indices)
            except (IndexError, ValueError) as exc:
                answer["error"] = f"frames {indices}: {exc}"
        self._send_msg(answer)


class EcgView(JSComponent):  # type: ignore[misc]
    """Waveform leads drawn on ECG paper (1 mm / 5 mm grid) in a canvas."""

    leads = param.List(default=[], doc="""
        ``[{"name": "I", "values": [mV, ...]}, ...]``, one entry per lead.""")
    sampling_rate = param.Number(default=500.0, bounds=(1e-3, None), doc="Samples per second.")
    speed = param.Number(default=25.0, bounds=(1, 200), doc="Paper speed in mm/s.")
    gain = param.Number(default=10.0, bounds=(0.5, 80), doc="Amplitude in mm/mV.")
    layout: param.Selector[str] = param.Selector(
        default="3x4+1", objects=["3x4+1", "6x2", "12x1"], doc="""
        Standard layouts: four columns of three leads plus a lead II rhythm strip,
        two columns of six, or every lead over the whole width.""")
    title = param.List(default=[], doc="Text lines above the tracing (shown as text).")
    drawn = param.List(default=[], doc="Lead names drawn, reported by the browser.")

    _esm = asset("ecg_view.js")
    _stylesheets = [asset("panels.css")]

    def __init__(self, **params: object) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        super().__init__(**params)


class DocumentView(JSComponent):  # type: ignore[misc]
    """An encapsulated document fetched by the browser and shown in its native form."""

    url = param.String(default="", doc="WADO-RS bulk data URL of the document.")
    media_type = param.String(default="application/pdf", doc="MIME type of the document.")
    filename = param.String(default="document.pdf", doc="Name offered for download.")
    headers = param.Dict(default={}, doc="Extra request headers for the browser's fetch.")
    size = param.Integer(default=0, doc="Bytes received, reported by the browser.")
    error = param.String(default="", doc="Loading error, reported by the browser.")

    _esm = asset("pixels.js", "document_view.js")
    _stylesheets = [asset("panels.css")]

    def __init__(self, **params: object) -> None:
        params.setdefault("sizing_mode", "stretch_both")
        params.setdefault("min_height", 640)
        super().__init__(**params)


class TableView(JSComponent):  # type: ignore[misc]
    """Rows of text with an optional thumbnail each; a click selects a row.

    Cell text is put into the page as text, never as HTML.
    """

    columns = param.List(default=[], doc="``[{'key': ..., 'label': ...}, ...]`` in order.")
    rows = param.List(default=[], doc="""
        Row dicts holding the column keys, ``id`` and optionally ``thumbnail`` (a URL).""")
    selected = param.String(default="", doc="``id`` of the row last clicked.")
    clicks = param.Integer(default=0, doc="Counts clicks, so that clicking a row again opens it.")
    mode: param.Selector[str] = param.Selector(
        default="table", objects=["table", "cards"], doc="Layout of the rows.")
    headers = param.Dict(default={}, doc="Extra request headers for thumbnails.")
    empty = param.String(default="Nothing found.", doc="Text shown without rows.")

    _esm = asset("table_view.js")
    _stylesheets = [asset("panels.css")]


class SessionView(JSComponent):  # type: ignore[misc]
    """Log-in form (``mode="login"``) or the user's name with a log-out button.

    The browser posts the credentials to ``<root>/api/auth/login`` itself, so the archive
    sets its HttpOnly session cookie on the page's origin; Python never sees the
    password.
    """

    mode: param.Selector[str] = param.Selector(
        default="login", objects=["login", "account"], doc="What to show.")
    email = param.String(default="", doc="The logged-in user's e-mail address.")
    message = param.String(default="", doc="A note shown under the log-in form.")
    root = param.String(default="", doc="""
        The archive's path prefix (``""`` at ``/``, e.g. ``/services/archive``): the
        browser's log-in and log-out calls go under it.""")

    _esm = asset("session_view.js")
    _stylesheets = [asset("panels.css")]
