# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""Form widgets for the typed fields of a report template, and the dictation recorder.

One editor per field type of :mod:`workbench.reports.templates`; each holds its value
in ``value`` in the template's *normal form* (what the archive validates and signs) or
``None`` while empty, and keeps its widgets in step both ways, so tests and notebooks
set values without a browser. :func:`editor_for` picks the editor of a field.

The 17-segment grid (:class:`SegmentScoresEditor`) recomputes SSS, SRS and SDS with
:class:`workbench.reports.scores.SegmentScores` whenever a score changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import panel as pn
import param
from panel.custom import JSComponent

from workbench.reports.render import format_value
from workbench.reports.scores import SEGMENTS, SegmentScores
from workbench.reports.templates import MAX_TEXT, TemplateField
from workbench.viewer.components import asset

__all__ = ["AudioRecorder", "ChoiceEditor", "FieldEditor", "KeyImagesEditor",
           "MeasurementEditor", "NumberEditor", "SegmentScoresEditor", "TextEditor",
           "editor_for"]

NONE_LABEL = "\u2014"
"""Label of the empty choice."""


class FieldEditor(param.Parameterized):
    """The widgets of one template field; ``value`` is its normal-form value or None."""

    field = param.ClassSelector(class_=TemplateField, doc="The template field edited.")
    value = param.Parameter(default=None, doc="""
        The field's value in normal form (see ``Template.validate_values``), None if empty.""")
    sources = param.Dict(default={}, doc="""
        What the study offers (``{"measurements": [...], "key_images": [...]}``, as
        ``GET /api/studies/{study}/report-sources`` answers).""")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._syncing = False
        self.param.watch(self._value_changed, "value")

    @property
    def spec(self) -> TemplateField:
        """The template field edited."""
        field = self.field
        assert isinstance(field, TemplateField), "an editor needs its template field"
        return field

    @property
    def label(self) -> str:
        """The field's label, marked ``*`` when required."""
        return self.spec.label + (" *" if self.spec.required else "")

    def _set(self, value: Any) -> None:
        """Set ``value`` from a widget (without writing it back to the widgets)."""
        self._syncing = True
        try:
            self.value = value
        finally:
            self._syncing = False

    def _value_changed(self, _: param.parameterized.Event) -> None:
        if not self._syncing:
            self._show(self.value)

    def _show(self, value: Any) -> None:
        """Put `value` into the widgets."""
        raise NotImplementedError

    def summary(self) -> str:
        """The value as the PDF prints it (empty when there is none)."""
        return "" if self.value is None else format_value(self.spec, self.value)

    def __panel__(self) -> pn.viewable.Viewable:
        raise NotImplementedError


class TextEditor(FieldEditor):
    """Free text (``text``)."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.input = pn.widgets.TextAreaInput(
            label=self.label, auto_grow=True, rows=2, max_length=MAX_TEXT,
            sizing_mode="stretch_width", css_classes=[f"wb-field-{self.spec.id}"])
        self.input.param.watch(self._typed, ["value_input", "value"])
        self._show(self.value)

    def _typed(self, *events: param.parameterized.Event) -> None:
        self._set(events[-1].new or None)

    def _show(self, value: Any) -> None:
        self.input.param.update(value=value or "", value_input=value or "")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.input


class NumberEditor(FieldEditor):
    """A number in the field's unit (``number``): ``{"value": x, "unit": ucum}``."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        field = self.spec
        unit = field.display_unit
        step = 10.0 ** -(field.decimals if field.decimals is not None else 1)
        self.input = pn.widgets.FloatInput(
            label=f"{self.label} ({unit})" if unit else self.label, value=None,
            start=field.minimum, end=field.maximum, step=step, width=220,
            css_classes=[f"wb-field-{field.id}"])
        self.input.param.watch(self._typed, "value")
        self._show(self.value)

    def _typed(self, event: param.parameterized.Event) -> None:
        self._set(None if event.new is None else {"value": float(event.new),
                                                  "unit": self.spec.unit})

    def _show(self, value: Any) -> None:
        number = value.get("value") if isinstance(value, Mapping) else value
        self.input.value = None if number is None else float(number)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.input


class ChoiceEditor(FieldEditor):
    """One coded value, or several with ``multiple: true`` (``choice``).

    The widgets hold code values; ``value`` is the code ``{scheme, value, meaning}``
    (a list of them for several).
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        field = self.spec
        self._codes = {o.value: o.model_dump() for o in field.options}
        options = {o.meaning: o.value for o in field.options}
        if field.multiple:
            self.input: pn.widgets.Widget = pn.widgets.MultiChoice(
                label=self.label, options=options, sizing_mode="stretch_width",
                css_classes=[f"wb-field-{field.id}"])
        else:
            self.input = pn.widgets.Select(
                label=self.label, options={NONE_LABEL: "", **options}, width=320,
                css_classes=[f"wb-field-{field.id}"])
        self.input.param.watch(self._picked, "value")
        self._show(self.value)

    def _picked(self, event: param.parameterized.Event) -> None:
        if self.spec.multiple:
            self._set([self._codes[v] for v in event.new] or None)
        else:
            self._set(self._codes.get(event.new))

    def _show(self, value: Any) -> None:
        picks = value if isinstance(value, list) else ([] if value is None else [value])
        codes = [p.get("value") if isinstance(p, Mapping) else p for p in picks]
        self.input.value = codes if self.spec.multiple else (codes[0] if codes else "")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.input


def _measurement_label(item: Mapping[str, Any]) -> str:
    label = item.get("label") or "measurement"
    return f"{label}: {float(item['value']):g} {item.get('unit', '')}".strip()


class MeasurementEditor(FieldEditor):
    """A measurement of the study linked by its SR tracking UID (``measurement``)."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.input = pn.widgets.Select(label=self.label, width=420,
                                       css_classes=[f"wb-field-{self.spec.id}"])
        self.input.param.watch(self._picked, "value")
        self.param.watch(lambda *_: self._show(self.value), "sources")
        self._show(self.value)

    def _choices(self, current: Any) -> dict[str, Mapping[str, Any]]:
        found = {str(m["tracking_uid"]): m for m in self.sources.get("measurements", [])}
        if isinstance(current, Mapping) and current.get("tracking_uid"):
            found.setdefault(str(current["tracking_uid"]), current)
        return found

    def _picked(self, event: param.parameterized.Event) -> None:
        found = self._choices(self.value).get(event.new)
        self._set(None if found is None else dict(found))

    def _show(self, value: Any) -> None:
        choices = self._choices(value)
        options = {NONE_LABEL + " not linked": ""}
        options.update({f"{_measurement_label(m)} [{uid[-8:]}]": uid
                        for uid, m in choices.items()})
        selected = str(value["tracking_uid"]) if isinstance(value, Mapping) else ""
        self._syncing = True
        try:
            self.input.param.update(options=options, value=selected)
        finally:
            self._syncing = False

    def __panel__(self) -> pn.viewable.Viewable:
        if not self.sources.get("measurements") and self.value is None:
            return pn.Column(self.input, pn.pane.Str(
                "No measurements stored with this study yet (SR TID 1500).",
                styles={"color": "#6b7280", "font-size": "12px"}))
        return self.input


def _image_key(item: Mapping[str, Any]) -> str:
    return f"{item['sop_instance_uid']}#{item.get('frame') or ''}"


class KeyImagesEditor(FieldEditor):
    """References to images of the study (``key_images``), from its key object notes."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.input = pn.widgets.MultiChoice(label=self.label, sizing_mode="stretch_width",
                                            css_classes=[f"wb-field-{self.spec.id}"])
        self.input.param.watch(self._picked, "value")
        self.param.watch(lambda *_: self._show(self.value), "sources")
        self._show(self.value)

    def _choices(self, current: Any) -> dict[str, Mapping[str, Any]]:
        found = {_image_key(k): k for k in self.sources.get("key_images", [])}
        for item in current or []:
            found.setdefault(_image_key(item), item)
        return found

    def _picked(self, event: param.parameterized.Event) -> None:
        choices = self._choices(self.value)
        self._set([dict(choices[k]) for k in event.new if k in choices] or None)

    def _show(self, value: Any) -> None:
        choices = self._choices(value)
        options = {}
        for number, (key, item) in enumerate(choices.items(), start=1):
            frame = f" frame {item['frame']}" if item.get("frame") else ""
            caption = item.get("caption") or f"key image {number}"
            options[f"{caption} ({str(item['sop_instance_uid'])[-10:]}{frame})"] = key
        self._syncing = True
        try:
            self.input.param.update(options=options,
                                    value=[_image_key(i) for i in value or []])
        finally:
            self._syncing = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self.input


class SegmentScoresEditor(FieldEditor):
    """The 17-segment stress/rest score grid (``segment_scores``) with live sums.

    ``value`` stays None until a score is set (or a value is loaded); then it is
    ``{"stress": [17], "rest": [17] or None, "sss", "srs", "sds", "sss_percent",
    "sds_percent"}``, the sums recomputed on every change.
    """

    with_rest = param.Boolean(default=True, doc="Rest scores too (off: stress only).")
    summary_text = param.String(default="", doc="SSS, SRS and SDS as shown to the reader.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        choices = [0, 1, 2, 3, 4]
        self.stress = [pn.widgets.Select(options=choices, value=0, width=56,
                                         css_classes=[f"wb-score-stress-{n}"])
                       for n in range(1, 18)]
        self.rest = [pn.widgets.Select(options=choices, value=0, width=56,
                                       css_classes=[f"wb-score-rest-{n}"])
                     for n in range(1, 18)]
        self.rest_toggle = pn.widgets.Checkbox.from_param(
            self.param.with_rest, label="Rest scores (untick: stress only)")
        for widget in (*self.stress, *self.rest):
            widget.param.watch(self._scored, "value")
        self.param.watch(self._scored, "with_rest")
        self._show(self.value)

    def scores(self) -> SegmentScores:
        """The grid's scores as they stand in the widgets."""
        rest = tuple(int(w.value) for w in self.rest) if self.with_rest else None
        return SegmentScores(tuple(int(w.value) for w in self.stress), rest)

    def _summarise(self, grid: SegmentScores) -> None:
        summary = grid.summary()
        text = f"SSS {summary['sss']} ({summary['sss_percent']}%)"
        if grid.rest is not None:
            text += (f"   SRS {summary['srs']}   SDS {summary['sds']} "
                     f"({summary['sds_percent']}%)")
        self.summary_text = text

    def _scored(self, _: param.parameterized.Event) -> None:
        if self._syncing:
            return
        grid = self.scores()
        self._summarise(grid)
        self._set({"stress": list(grid.stress),
                   "rest": None if grid.rest is None else list(grid.rest), **grid.summary()})

    def _show(self, value: Any) -> None:
        self._syncing = True
        try:
            stress = list(value.get("stress") or [0] * 17) if value else [0] * 17
            rest = value.get("rest") if value else [0] * 17
            self.with_rest = rest is not None
            for widget, score in zip(self.stress, stress, strict=True):
                widget.value = int(score)
            for widget, score in zip(self.rest, rest or [0] * 17, strict=True):
                widget.value = int(score)
        finally:
            self._syncing = False
        self._summarise(self.scores())

    def __panel__(self) -> pn.viewable.Viewable:
        # rows of plain flex boxes: a GridBox relaid out while its children's views are
        # still being built fails in BokehJS
        header = pn.Row(pn.pane.Str("Segment", width=200), pn.pane.Str("Stress", width=60),
                        pn.pane.Str("Rest", width=60))
        rows = [pn.Row(pn.pane.Str(f"{number:2d} {name}", width=200),
                       self.stress[number - 1], self.rest[number - 1])
                for number, name in enumerate(SEGMENTS, start=1)]
        grid = pn.Column(header, *rows, css_classes=["wb-score-grid"])
        return pn.Column(
            pn.pane.Str(self.label, styles={"font-weight": "600"}), self.rest_toggle, grid,
            pn.pane.Str(self.param.summary_text, css_classes=["wb-score-summary"],
                        styles={"font-weight": "600"}))


_EDITORS: dict[str, type[FieldEditor]] = {
    "text": TextEditor, "number": NumberEditor, "choice": ChoiceEditor,
    "measurement": MeasurementEditor, "key_images": KeyImagesEditor,
    "segment_scores": SegmentScoresEditor}


def editor_for(field: TemplateField, value: Any = None,
               sources: Mapping[str, Any] | None = None) -> FieldEditor:
    """The editor of a template field, showing `value`.

    Parameters
    ----------
    field
        The template field.
    value
        Its current value in normal form (None: empty).
    sources
        The study's measurements and key images (``report-sources``).

    Examples
    --------
    >>> from workbench.reports.templates import TemplateField
    >>> e = editor_for(TemplateField(id="lvef", type="number", label="LVEF", unit="%"))
    >>> e.input.value = 55
    >>> e.value
    {'value': 55.0, 'unit': '%'}
    """
    return _EDITORS[field.type](field=field, value=value, sources=dict(sources or {}))


class AudioRecorder(JSComponent):  # type: ignore[misc]
    """Records dictation with the browser's microphone (``MediaRecorder``).

    When the reader stops, the browser sends the clip as base64 in ``audio`` with its
    type in ``media_type`` and counts ``clips`` up; the form uploads it. Browsers allow
    the microphone on secure origins (https, localhost) only.
    """

    audio = param.String(default="", doc="The last clip, base64 (set by the browser).")
    media_type = param.String(default="", doc="MIME type of the last clip.")
    clips = param.Integer(default=0, doc="Clips recorded so far (the browser counts).")
    recording = param.Boolean(default=False, doc="Recording now (reported by the browser).")
    error = param.String(default="", doc="Why recording failed (reported by the browser).")

    _esm = asset("recorder.js")
    _stylesheets = [asset("reporting.css")]
