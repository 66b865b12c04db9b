# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""Measurement tools of the image viewer: the archive's annotation API and the controller.

The browser draws (``assets/annotate.js``, an SVG overlay over the WebGL canvas) and
sends the finished shape's pixel points, ``(row, col)`` zero-based with integers at pixel
centres, of the displayed (acquired) image. :class:`AnnotationController` turns the
display index into the image reference (SOP Instance UID, one-based frame of a
multi-frame image) and posts it to ``/api/studies/{study}/annotations``; the archive
measures with :mod:`workbench.measure` and answers value, unit and calibration
(``docs/measurements.md``), which the controller gives back to the browser as the label
shown beside the shape. Moving a handle re-measures through ``PUT``; deleting is
``DELETE``. The study's annotations are loaded when the series is opened.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
import panel as pn
import param

from workbench.dicomweb.client import raise_for_response
from workbench.dicomweb.client_base import ArchiveUnavailableError
from workbench.errors import WorkbenchError
from workbench.viewer.viewers import SliceViewer

__all__ = ["MEASURE_TOOLS", "AnnotationApi", "AnnotationController", "describe"]

MEASURE_TOOLS = ("select", "length", "angle", "cobb", "bidirectional", "ellipse",
                 "rectangle", "freehand", "probe", "arrow", "text")
"""Left-button tools the controller adds to a viewer (``select`` moves handles only)."""

_CALIBRATION_NAMES = {
    "PIXEL_SPACING": "Pixel Spacing", "GEOMETRY": "Pixel Spacing, geometry",
    "FIDUCIAL": "Pixel Spacing, fiducial", "CALIBRATED": "calibrated Pixel Spacing",
    "ERMF": "Imager Pixel Spacing / ERMF", "DETECTOR": "at the detector",
    "SCANNED": "scanned film", "US_REGION": "ultrasound region", "USER": "user calibration",
    "VOLUME": "voxel spacing", "PIXELS": "uncalibrated",
}
_REFUSALS = (WorkbenchError, ValueError, KeyError, TypeError)
_UNITS = {"deg": "\u00b0", "mm2": "mm\u00b2", "px2": "px\u00b2"}


class AnnotationApi:
    """The archive's annotation routes of a study, as one reader.

    Parameters
    ----------
    url
        The archive's root, e.g. ``"http://127.0.0.1:8042"`` (the API is at ``url/api``).
    token
        An API token (``Authorization: Bearer``); or None with a ``client`` holding the
        reader's session cookie.
    csrf
        The session's CSRF token (``wb_csrf``), sent with changes.
    client
        An ``httpx.Client`` to use and not close.

    Notes
    -----
    Calls block. Errors raise the :mod:`workbench.errors` type of the answer (a refused
    point count is a ``WorkbenchError`` with the archive's message).
    """

    def __init__(self, url: str, *, token: str | None = None, csrf: str | None = None,
                 client: httpx.Client | None = None, timeout: float = 60) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._csrf = {"X-CSRF-Token": csrf} if csrf else {}
        self._owns = client is None
        self._http = client if client is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the connections (unless the client was given)."""
        if self._owns:
            self._http.close()

    def _call(self, method: str, path: str, json: Any = None,
              params: Mapping[str, str] | None = None) -> Any:
        headers = dict(self._headers)
        if method != "GET":
            headers.update(self._csrf)
        try:
            response = self._http.request(method, f"{self.url}/api{path}", json=json,
                                          params=params, headers=headers)
        except httpx.TransportError as exc:
            raise ArchiveUnavailableError(
                f"cannot reach the archive at {self.url}: {exc or type(exc).__name__}"
            ) from exc
        raise_for_response(response)
        return None if response.status_code == 204 else response.json()

    @staticmethod
    def _path(study: str, annotation_id: int | None = None) -> str:
        path = f"/studies/{quote(study, safe='')}/annotations"
        return path if annotation_id is None else f"{path}/{int(annotation_id)}"

    def list(self, study: str, *, include_sr: bool = False) -> list[dict[str, Any]]:
        """``GET``: the study's stored annotations, oldest first; with `include_sr` also
        the (read-only, ``"origin": "sr"``) measurements of its TID 1500 SR documents."""
        found: list[dict[str, Any]] = self._call(
            "GET", self._path(study), params={"include": "sr"} if include_sr else None)
        return found

    def create(self, study: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST``: measure and store one annotation; the annotation as measured."""
        created: dict[str, Any] = self._call("POST", self._path(study), json=dict(body))
        return created

    def update(self, study: str, annotation_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT``: replace the annotation's points (or label); measured again."""
        changed: dict[str, Any] = self._call("PUT", self._path(study, annotation_id),
                                             json=dict(body))
        return changed

    def delete(self, study: str, annotation_id: int) -> None:
        """``DELETE`` the annotation."""
        self._call("DELETE", self._path(study, annotation_id))


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.1f}" if abs(value) < 1e4 else f"{value:.0f}"


def describe(annotation: Mapping[str, Any]) -> str:
    """The text shown beside a measured annotation: value, unit and calibration.

    Examples
    --------
    >>> describe({"kind": "length", "label": "", "measurement": {
    ...     "quantities": [{"name": "length", "value": 42.31, "unit": "mm"}],
    ...     "calibration": {"kind": "PIXEL_SPACING"}}})
    '42.3 mm (Pixel Spacing)'
    >>> describe({"kind": "ellipse", "label": "", "measurement": {
    ...     "quantities": [{"name": "area", "value": 123.44, "unit": "mm2"},
    ...                    {"name": "mean", "value": 40.0, "unit": "HU"}],
    ...     "calibration": {"kind": "PIXEL_SPACING"}}})
    '123.4 mm² mean 40.0 HU (Pixel Spacing)'
    """
    label = str(annotation.get("label") or "")
    measurement = annotation.get("measurement")
    if not measurement:
        return label
    quantities = {q["name"]: q for q in measurement.get("quantities", [])}

    def show(name: str, prefix: str = "") -> str:
        q = quantities.get(name)
        if q is None:
            return ""
        unit = _UNITS.get(str(q.get("unit") or ""), str(q.get("unit") or ""))
        space = "" if unit == "\u00b0" else " "
        return f"{prefix}{_number(q.get('value'))}{space}{unit}".rstrip()

    kind = annotation.get("kind")
    if kind == "bidirectional":
        parts = [show("long axis"), show("short axis", "x ")]
    elif "area" in quantities:
        parts = [show("area"), show("mean", "mean "), show("standard deviation", "SD ")]
    else:
        first = next(iter(quantities), None)
        parts = [show(first)] if first else []
    text = " ".join(p for p in parts if p)
    calibration = (measurement.get("calibration") or {}).get("kind")
    if calibration and kind != "probe" and kind != "angle" and kind != "cobb":
        text += f" ({_CALIBRATION_NAMES.get(calibration, str(calibration))})"
    return f"{label}: {text}" if label else text


def same_shape(a: Mapping[str, Any], b: Mapping[str, Any], tolerance: float = 0.01) -> bool:
    """Whether two annotations are one shape: kind, image, frame and points (within
    `tolerance` pixels). An SR exported from the archive lists its annotations again.

    >>> same_shape({"kind": "length", "sop_instance_uid": "1", "frame": None,
    ...             "points": [[1, 2], [3, 4]]},
    ...            {"kind": "length", "sop_instance_uid": "1", "frame": 1,
    ...             "points": [[1.001, 2], [3, 4]]})
    True
    """
    if (a.get("kind"), a.get("sop_instance_uid"), int(a.get("frame") or 1)) != (
            b.get("kind"), b.get("sop_instance_uid"), int(b.get("frame") or 1)):
        return False
    p, q = a.get("points") or [], b.get("points") or []
    return len(p) == len(q) and all(
        abs(float(x) - float(y)) <= tolerance
        for u, v in zip(p, q, strict=True) for x, y in zip(u, v, strict=True))


class AnnotationController(param.Parameterized):
    """The measurement tools of one :class:`~workbench.viewer.viewers.SliceViewer`.

    Adds the tools of :data:`MEASURE_TOOLS` to the viewer's ``tool``, answers the
    browser's finished shapes (``ImageView.annotation_handler``) through ``api`` and
    keeps ``ImageView.annotations`` (what the overlay draws) equal to the archive's.
    Only images as acquired are measured (not reformatted planes).

    Parameters
    ----------
    api
        The archive's annotation routes (:class:`AnnotationApi`).
    viewer
        The viewer whose series is measured; its ``series`` must be set.
    """

    items = param.List(default=[], doc="""
        The series' annotations as the archive answered them, oldest first.""")
    message = param.String(default="", doc="The last refusal or error, as text for the reader.")

    def __init__(self, api: AnnotationApi, viewer: SliceViewer, **params: Any) -> None:
        super().__init__(**params)
        if viewer.series is None:
            raise ValueError("the viewer has no series to measure on")
        self.api, self.viewer = api, viewer
        self.series = viewer.series
        self._tasks: set[asyncio.Task[None]] = set()  # messages being carried out
        counts: dict[str, int] = {}
        for frame in self.series.frames:
            counts[frame.sop_uid] = counts.get(frame.sop_uid, 0) + 1
        self._multiframe = {uid for uid, n in counts.items() if n > 1}
        self._index = {(f.sop_uid, f.number): k for k, f in enumerate(self.series.frames)}
        tools = list(dict.fromkeys([*(viewer.param.tool.objects or []), *MEASURE_TOOLS]))
        viewer.param.tool.objects = tools
        viewer.view.param.tool.objects = tools
        viewer.view.annotation_handler = self.received
        self.param.watch(self._show, "items")

    # -- archive calls (blocking) -------------------------------------------------------
    def fetch(self, listed: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The study's annotations of this series in the archive, and the measurements of
        its SR documents (TID 1500, e.g. from another workstation: shown, not editable)
        that are not the archive's own annotations exported (blocking; sets nothing).

        `listed` is the study's list (``AnnotationApi.list(study, include_sr=True)``)
        when the caller fetched it already (the reading app does, alongside the series
        metadata); None: fetched here."""
        if listed is None:
            listed = self.api.list(self.series.study_uid, include_sr=True)
        found = [a for a in listed if a.get("series_uid") == self.series.series_uid]
        own = [a for a in found if a.get("origin") != "sr"]
        return own + [a for a in found if a.get("origin") == "sr"
                      and not any(same_shape(a, b) for b in own)]

    def load(self) -> None:
        """Fetch this series' annotations from the archive and show them."""
        self.items = self.fetch()

    def create(self, kind: str, index: int, points: list[list[float]], label: str = ""
               ) -> dict[str, Any]:
        """Measure and store a shape drawn on displayed image `index` (zero-based)."""
        created = self._create(kind, index, points, label)
        self.items = [*self.items, created]
        return created

    def update(self, annotation_id: int, points: list[list[float]]) -> dict[str, Any]:
        """Move the points of an annotation; the archive measures it again."""
        changed = self._update(annotation_id, points)
        self.items = [changed if a.get("id") == annotation_id else a for a in self.items]
        return changed

    def delete(self, annotation_id: int) -> None:
        """Delete an annotation from the archive and the overlay."""
        self._delete(annotation_id)
        self.items = [a for a in self.items if a.get("id") != annotation_id]

    def _create(self, kind: str, index: int, points: list[list[float]], label: str
                ) -> dict[str, Any]:
        body = {"kind": kind, **self._reference(index), "label": label,
                "points": [[float(r), float(c)] for r, c in points]}
        return self.api.create(self.series.study_uid, body)

    def _update(self, annotation_id: int, points: list[list[float]]) -> dict[str, Any]:
        old = self._item(annotation_id)
        body = {key: old[key] for key in ("kind", "series_uid", "sop_instance_uid", "frame",
                                          "label")}
        body["points"] = [[float(r), float(c)] for r, c in points]
        return self.api.update(self.series.study_uid, annotation_id, body)

    def _delete(self, annotation_id: int) -> None:
        self._item(annotation_id)
        self.api.delete(self.series.study_uid, annotation_id)

    def _perform(self, message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Carry out a browser message against the archive (blocking); the new items."""
        action = message.get("action")
        if action == "create":
            created = self._create(str(message.get("kind")), int(message.get("index", -1)),
                                   list(message.get("points") or []),
                                   str(message.get("label") or ""))
            return [*self.items, created]
        if action == "update":
            annotation_id = int(message["id"])
            changed = self._update(annotation_id, list(message.get("points") or []))
            return [changed if a.get("id") == annotation_id else a for a in self.items]
        if action == "delete":
            annotation_id = int(message["id"])
            self._delete(annotation_id)
            return [a for a in self.items if a.get("id") != annotation_id]
        raise ValueError(f"unknown annotation action {action!r}")

    def _refused(self, exc: Exception) -> None:
        self.message = f"Measurement not saved: {exc}"
        self._show()

    def handle(self, message: Mapping[str, Any]) -> None:
        """Carry out one browser message: ``{"action": "create", "kind", "index",
        "points", "label"}``, ``{"action": "update", "id", "points"}`` or
        ``{"action": "delete", "id"}``.

        A refusal (points off the image, a measurement the archive cannot make) goes
        to ``message``; the overlay is reset to the archive's annotations either way.
        """
        self.message = ""
        try:
            self.items = self._perform(message)
        except _REFUSALS as exc:
            self._refused(exc)

    async def handle_async(self, message: Mapping[str, Any]) -> None:
        """:meth:`handle` with the archive call on a worker thread (the page's own
        server answers it on this event loop); parameters change on the loop."""
        self.message = ""
        try:
            self.items = await asyncio.to_thread(self._perform, message)
        except _REFUSALS as exc:
            self._refused(exc)

    def received(self, message: Mapping[str, Any]) -> None:
        """The browser's message: handled on a thread in a served page, else directly.

        Never blocks an event loop running in this thread: in a served page that loop
        is the one the archive answers on, so a blocking call would wait for itself.
        """
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.execute(partial(self.handle_async, message))
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread (a test, a plain script)
            self.handle(message)
            return
        task = loop.create_task(self.handle_async(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def delete_selected(self) -> None:
        """Delete the annotation the reader selected in the browser, if any."""
        selected = self.viewer.view.annotation_selected
        if selected is not None:
            self.received({"action": "delete", "id": selected})

    # -- helpers ------------------------------------------------------------------------
    def _item(self, annotation_id: int) -> dict[str, Any]:
        for item in self.items:
            if item.get("id") == annotation_id:
                return dict(item)
        raise ValueError(f"annotation {annotation_id} is not one of this series'")

    def _reference(self, index: int) -> dict[str, Any]:
        if self.viewer.orientation != "acquired":
            raise ValueError("measurements are made on the acquired images, "
                             f"not on the {self.viewer.orientation} plane")
        if not 0 <= index < len(self.series.frames):
            raise ValueError(f"image {index} is not in the series "
                             f"({len(self.series.frames)} images)")
        frame = self.series.frames[index]
        return {"series_uid": self.series.series_uid, "sop_instance_uid": frame.sop_uid,
                "frame": frame.number if frame.sop_uid in self._multiframe else None}

    def shapes(self) -> list[dict[str, Any]]:
        """What the browser's overlay draws: per annotation its display index, points,
        text, kind, id and whether the reader may change it."""
        shapes = []
        for item in self.items:
            key = (str(item.get("sop_instance_uid")), int(item.get("frame") or 1))
            index = self._index.get(key)
            if index is None:
                continue
            shapes.append({"id": item.get("id"), "kind": item.get("kind"), "index": index,
                           "points": item.get("points") or [], "text": describe(item),
                           "editable": bool(item.get("editable"))})
        return shapes

    def _show(self, *_: Any) -> None:
        self.viewer.view.annotations = self.shapes()

    def controls(self) -> list[Any]:
        """Widgets for the viewer's toolbar: delete the selected shape, the last error."""
        delete = pn.widgets.Button(label="Delete measurement", width=150,
                                   css_classes=["wb-delete-annotation"])
        delete.on_click(lambda _: self.delete_selected())
        return [delete, pn.pane.Str(self.param.message, styles={"color": "#b91c1c"})]
