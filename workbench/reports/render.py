"""Report content as readable text: what the PDF prints and SR and FHIR carry as text.

Numbers are printed with the field's ``decimals`` and display unit, choices by their
meaning, measurements with their unit and a note that they are linked, key images by
caption, and the 17-segment grid by its summed scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.reports.model import Content
from workbench.reports.templates import Template, TemplateField

__all__ = ["RenderedLine", "RenderedSection", "format_value", "rendered_sections",
           "section_text"]


@dataclass(frozen=True)
class RenderedLine:
    """One filled field: its label, the value as text, and the field and raw value."""

    label: str
    text: str
    field: TemplateField
    value: Any


@dataclass(frozen=True)
class RenderedSection:
    """A section with at least one filled field."""

    title: str
    kind: str
    lines: tuple[RenderedLine, ...]


def _number(value: float, decimals: int | None) -> str:
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return f"{value:g}"


def format_value(field: TemplateField, value: Any) -> str:
    """The value of `field` as printed.

    Examples
    --------
    >>> from workbench.reports.templates import TemplateField
    >>> f = TemplateField(id="lvef", type="number", label="LVEF", unit="%", decimals=0)
    >>> format_value(f, {"value": 55.4, "unit": "%"})
    '55 %'
    """
    kind = field.type
    if kind == "text":
        return str(value)
    if kind == "number":
        unit = field.display_unit
        return _number(float(value["value"]), field.decimals) + (f" {unit}" if unit else "")
    if kind == "choice":
        picks = value if isinstance(value, list) else [value]
        return "; ".join(str(p["meaning"]) for p in picks)
    if kind == "measurement":
        label = f" ({value['label']})" if value.get("label") else ""
        return f"{_number(float(value['value']), field.decimals)} {value['unit']}{label}" \
               " [linked measurement]"
    if kind == "key_images":
        captions = [i.get("caption") or f"image {n}" for n, i in enumerate(value, start=1)]
        return f"{len(value)} key image(s): " + "; ".join(captions)
    if kind == "segment_scores":
        parts = [f"SSS {value['sss']} ({value['sss_percent']}% of myocardium)"]
        if value.get("srs") is not None:
            parts += [f"SRS {value['srs']}",
                      f"SDS {value['sds']} ({value['sds_percent']}% of myocardium)"]
        return ", ".join(parts)
    raise ValueError(f"unknown field type {kind!r}")


def rendered_sections(content: Content, template: Template) -> list[RenderedSection]:
    """The filled sections of `content`, in template order (empty sections left out)."""
    out = []
    for section in template.sections:
        lines = tuple(RenderedLine(f.label, format_value(f, content.values[f.id]), f,
                                   content.values[f.id])
                      for f in section.fields if f.id in content.values)
        if lines:
            out.append(RenderedSection(section.title, section.kind, lines))
    return out


def section_text(content: Content, template: Template, kinds: tuple[str, ...]) -> str:
    """Plain text of the sections of the given kinds (e.g. ``("impression",)``)."""
    chunks = []
    for section in rendered_sections(content, template):
        if section.kind not in kinds:
            continue
        for line in section.lines:
            single = len(section.lines) == 1 and line.field.type == "text"
            chunks.append(line.text if single else f"{line.label}: {line.text}")
    return "\n".join(chunks)
