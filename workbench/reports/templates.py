"""Report templates as data: sections of typed fields, validated when loaded.

A template is a YAML (or JSON) document; :class:`Template` is its schema. Field types:

================== ==============================================================
``text``           free text
``number``         a number with a UCUM unit (``unit``), optional range
``choice``         one coded value (or several, ``multiple: true``) from ``options``
``measurement``    a measured value linked to an annotation (its SR tracking UID)
``key_images``     references to images of the study (SOP instance, frame, caption)
``segment_scores`` the 17-segment stress/rest score grid; SSS, SRS, SDS are computed
================== ==============================================================

Codes are ``{scheme, value, meaning}`` (DICOM coding scheme designators: ``DCM``,
``SCT``, ``LN``, ``UCUM``; ``99WB`` marks workbench's own codes). Values are checked by
:meth:`Template.validate_values`, which returns their normal form (what is signed).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.reports.scores import SegmentScores

__all__ = ["Code", "Section", "Template", "TemplateField", "load_template"]

FieldType = Literal["text", "number", "choice", "measurement", "key_images", "segment_scores"]
SectionKind = Literal["clinical", "technique", "comparison", "findings", "impression", "other"]
_ID = r"^[a-z][a-z0-9_-]*$"
MAX_TEXT = 100_000


class Code(BaseModel):
    """A coded concept: coding scheme designator, code value, code meaning."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    scheme: str = Field(min_length=1, max_length=16)
    value: str = Field(min_length=1, max_length=64)
    meaning: str = Field(min_length=1, max_length=200)


class TemplateField(BaseModel):
    """One typed field of a template section."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    type: FieldType
    label: str = Field(min_length=1, max_length=200)
    code: Code | None = None
    required: bool = False
    unit: str | None = Field(default=None, description="UCUM code (number, measurement)")
    unit_display: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    decimals: int | None = Field(default=None, ge=0, le=6)
    options: tuple[Code, ...] = ()
    multiple: bool = False
    help: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> TemplateField:
        if self.type == "number" and not self.unit:
            raise ValueError(f"number field {self.id!r} needs a unit (UCUM code)")
        if self.type == "choice":
            if len(self.options) < 2:
                raise ValueError(f"choice field {self.id!r} needs at least two options")
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise ValueError(f"choice field {self.id!r} repeats an option code")
        elif self.options:
            raise ValueError(f"field {self.id!r} of type {self.type} cannot have options")
        if (self.minimum is not None and self.maximum is not None
                and self.minimum > self.maximum):
            raise ValueError(f"field {self.id!r}: minimum is above maximum")
        return self

    @property
    def display_unit(self) -> str:
        """The unit as printed (``unit_display``, else the UCUM code)."""
        return self.unit_display or self.unit or ""


class Section(BaseModel):
    """A titled group of fields; ``kind`` says where it goes in exports."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=_ID, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    kind: SectionKind = "other"
    fields: tuple[TemplateField, ...] = Field(min_length=1)


class Template(BaseModel):
    """A report template.

    ``modalities`` and ``keywords`` (matched in the study description and body part)
    decide when it is proposed; ``selectable: false`` hides it from choice (addenda).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=_ID, max_length=64)
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    code: Code
    modalities: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    selectable: bool = True
    sections: tuple[Section, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Template:
        ids = [f.id for s in self.sections for f in s.fields]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"template {self.id!r} repeats field ids {twice}")
        sections = [s.id for s in self.sections]
        if len(set(sections)) != len(sections):
            raise ValueError(f"template {self.id!r} repeats a section id")
        return self

    @property
    def fields(self) -> dict[str, TemplateField]:
        """Every field by id, in template order."""
        return {f.id: f for s in self.sections for f in s.fields}

    def validate_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check `values` against the fields; return them in normal form.

        Empty values (``None``, ``""``, ``[]``) are dropped. Computed parts (the summed
        scores of a score grid, a choice's meaning) are recomputed from the template,
        never taken from the input.

        Raises
        ------
        ValueError
            An unknown field, or a value of the wrong type, unit, range or code; the
            message names the field.
        """
        fields = self.fields
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"template {self.id!r} has no fields {unknown}")
        out: dict[str, Any] = {}
        for fid, field in fields.items():
            raw = values.get(fid)
            if raw is None or raw == "" or raw == [] or raw == {}:
                continue
            try:
                out[fid] = _VALIDATORS[field.type](field, raw)
            except (TypeError, KeyError) as exc:
                raise ValueError(f"field {fid!r}: malformed {field.type} value ({exc})") from exc
        return out

    def missing_required(self, values: Mapping[str, Any]) -> list[str]:
        """Labels of required fields without a value."""
        return [f.label for f in self.fields.values() if f.required and f.id not in values]


def _text(field: TemplateField, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"field {field.id!r} takes text")
    if len(raw) > MAX_TEXT:
        raise ValueError(f"field {field.id!r}: text longer than {MAX_TEXT} characters")
    return raw


def _number(field: TemplateField, raw: Any, *, unit_required: bool = False) -> float:
    if isinstance(raw, Mapping):
        unit = raw.get("unit")
        if unit is not None and field.unit and unit != field.unit:
            raise ValueError(f"field {field.id!r} is in {field.unit}, not {unit}")
        raw = raw["value"]
    elif unit_required:
        raise ValueError(f"field {field.id!r} takes {{value, unit}}")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"field {field.id!r} takes a number")
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"field {field.id!r}: {raw!r} is not a finite number")
    if field.minimum is not None and value < field.minimum:
        raise ValueError(f"field {field.id!r}: {value} is below {field.minimum}")
    if field.maximum is not None and value > field.maximum:
        raise ValueError(f"field {field.id!r}: {value} is above {field.maximum}")
    return value


def _quantity(field: TemplateField, raw: Any) -> dict[str, Any]:
    return {"value": _number(field, raw), "unit": field.unit}


def _choice(field: TemplateField, raw: Any) -> Any:
    by_value = {o.value: o for o in field.options}
    picks = raw if isinstance(raw, list) else [raw]
    if len(picks) > 1 and not field.multiple:
        raise ValueError(f"field {field.id!r} takes one choice")
    chosen = []
    for pick in picks:
        value = pick.get("value") if isinstance(pick, Mapping) else pick
        if value not in by_value:
            allowed = ", ".join(by_value)
            raise ValueError(f"field {field.id!r}: {value!r} is not one of {allowed}")
        chosen.append(by_value[value].model_dump())
    return chosen if field.multiple else chosen[0]


_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def _uid(field: TemplateField, raw: Any, key: str, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > 64 or not _UID.match(value):
        raise ValueError(f"field {field.id!r}: {key} must be a DICOM UID")
    return value


def _measurement(field: TemplateField, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"field {field.id!r} takes a measurement {{value, unit, tracking_uid}}")
    unit = raw.get("unit")
    if not isinstance(unit, str) or not unit:
        raise ValueError(f"field {field.id!r}: a measurement carries its unit")
    value = _number(field, raw)
    out: dict[str, Any] = {"value": value, "unit": unit,
                           "tracking_uid": _uid(field, raw, "tracking_uid")}
    for key in ("sr_instance_uid", "image_instance_uid"):
        uid = _uid(field, raw, key, required=False)
        if uid is not None:
            out[key] = uid
    label = raw.get("label")
    if label is not None:
        out["label"] = _text(field, label)
    return out


def _key_images(field: TemplateField, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise ValueError(f"field {field.id!r} takes a list of image references")
    out = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise ValueError(f"field {field.id!r}: an image reference is an object")
        ref: dict[str, Any] = {"sop_instance_uid": _uid(field, item, "sop_instance_uid"),
                               "sop_class_uid": _uid(field, item, "sop_class_uid"),
                               "series_uid": _uid(field, item, "series_uid")}
        frame = item.get("frame")
        if frame is not None:
            if isinstance(frame, bool) or not isinstance(frame, int) or frame < 1:
                raise ValueError(f"field {field.id!r}: frames are one-based integers")
            ref["frame"] = frame
        ref["caption"] = _text(field, item.get("caption") or "")
        out.append(ref)
    return out


def _segment_scores(field: TemplateField, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping) or "stress" not in raw:
        raise ValueError(f"field {field.id!r} takes {{stress: [17 scores], rest: [...]}}")
    try:
        grid = SegmentScores(tuple(raw["stress"]),
                             None if raw.get("rest") is None else tuple(raw["rest"]))
    except ValueError as exc:
        raise ValueError(f"field {field.id!r}: {exc}") from exc
    return {"stress": list(grid.stress), "rest": None if grid.rest is None else list(grid.rest),
            **grid.summary()}


_VALIDATORS = {"text": _text, "number": _quantity, "choice": _choice,
               "measurement": _measurement, "key_images": _key_images,
               "segment_scores": _segment_scores}


def load_template(source: str | Path | Mapping[str, Any]) -> Template:
    """Load and validate one template from a YAML/JSON file, text or mapping.

    Raises
    ------
    ValueError
        The document is not a valid template; the message says where.
    """
    if isinstance(source, Mapping):
        data: Any = source
    else:
        text = Path(source).read_text(encoding="utf-8") if isinstance(source, Path) else source
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise ValueError("a template is a mapping (YAML or JSON object)")
    return Template.model_validate(dict(data))


def builtin_template_files() -> Iterable[Path]:
    """The template files shipped with workbench (``workbench/reports/data``)."""
    folder = resources.files("workbench.reports") / "data"
    return sorted(Path(str(p)) for p in folder.iterdir()
                  if str(p).endswith((".yaml", ".yml", ".json")))
