"""The report as a PDF (fpdf2): letterhead, patient and study, sections, key images,
signature block, addenda and amendment history.

Unsigned reports carry a DRAFT / PRELIMINARY banner. Text is set in DejaVu Sans when
the system has it (any script it covers), else in the PDF core font Helvetica, which
holds Latin-1 only: other characters are then replaced, and the signed JSON stays the
authoritative text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from fpdf import FPDF

from workbench.reports.model import Report, ReportStatus, Version, VersionKind
from workbench.reports.registry import TemplateRegistry
from workbench.reports.render import rendered_sections
from workbench.reports.scores import SEGMENTS

__all__ = ["KeyImage", "Letterhead", "report_pdf"]

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_LATIN1 = str.maketrans({"²": "2", "·": ".", "–": "-", "—": "-", "’": "'", "“": '"',
                         "”": '"', "≥": ">=", "≤": "<=", "…": "..."})


@dataclass(frozen=True)
class Letterhead:
    """The practice printed at the top of every report."""

    name: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyImage:
    """A key image to print: JPEG or PNG bytes and a caption."""

    image: bytes
    caption: str = ""


def person_name(value: str) -> str:
    """A DICOM person name (``Family^Given^Middle^Prefix^Suffix``) as printed.

    Examples
    --------
    >>> person_name("Doe^Jane^Q")
    'Doe, Jane Q'
    """
    parts = value.split("=")[0].split("^")
    family, given = parts[0], " ".join(p for p in parts[1:3] if p)
    return f"{family}, {given}" if family and given else family or given


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 else value


class _Document(FPDF):
    def __init__(self, report: Report, font_dir: Path | None) -> None:
        super().__init__(format="A4")
        self.report = report
        self.unicode = font_dir is not None
        if font_dir is not None:
            self.add_font("body", "", str(font_dir / "DejaVuSans.ttf"))
            self.add_font("body", "B", str(font_dir / "DejaVuSans-Bold.ttf"))
        self.family_name = "body" if self.unicode else "Helvetica"
        self.set_auto_page_break(True, margin=18)
        self.set_margins(18, 16, 18)

    def text_of(self, value: str) -> str:
        if self.unicode:
            return value
        return value.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family_name, "", 8)
        self.cell(0, 5, self.text_of(f"Report {self.report.uid} - page {self.page_no()}/{{nb}}"),
                  align="C")

    def para(self, text: str, size: float = 10, style: str = "", height: float = 5) -> None:
        self.set_font(self.family_name, style, size)
        self.multi_cell(0, height, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str) -> None:
        self.ln(2)
        self.para(text, 11.5, "B", 6)

    def pairs(self, rows: Sequence[tuple[str, str]]) -> None:
        self.set_font(self.family_name, "", 9.5)
        with self.table(col_widths=(45, 125), first_row_as_headings=False,
                        borders_layout="HORIZONTAL_LINES", line_height=5.5) as table:
            for label, value in rows:
                row = table.row()
                row.cell(self.text_of(label))
                row.cell(self.text_of(value))


def _font_dir() -> Path | None:
    for folder in FONT_DIRS:
        if (folder / "DejaVuSans.ttf").exists() and (folder / "DejaVuSans-Bold.ttf").exists():
            return folder
    return None


def _signature_line(version: Version) -> str:
    sig = version.signature
    if sig is None:
        return "Not signed."
    return (f"Electronically signed by {sig.signer_name} (NPI {sig.signer_npi}) on "
            f"{sig.signed_at.replace('T', ' ').rstrip('Z')[:19]} UTC; meaning: {sig.meaning}. "
            f"Content SHA-256 {sig.content_hash}; key {sig.key_id}.")


def _body(doc: _Document, version: Version, registry: TemplateRegistry) -> None:
    template = registry.get(version.content.template, version.content.template_version)
    for section in rendered_sections(version.content, template):
        doc.heading(section.title)
        for line in section.lines:
            single = len(section.lines) == 1 and line.field.type == "text"
            doc.para(line.text if single else f"{line.label}: {line.text}")
            if line.field.type == "segment_scores":
                _grid(doc, line.value)


def _grid(doc: _Document, value: dict[str, object]) -> None:
    stress = value["stress"]
    rest = value.get("rest")
    assert isinstance(stress, list)
    doc.set_font(doc.family_name, "", 8.5)
    with doc.table(col_widths=(12, 60, 25, 25), line_height=4.5, text_align="LEFT") as table:
        header = table.row()
        for title in ("Seg.", "Segment", "Stress", "Rest"):
            header.cell(title)
        for index, name in enumerate(SEGMENTS):
            row = table.row()
            row.cell(str(index + 1))
            row.cell(name)
            row.cell(str(stress[index]))
            row.cell("-" if not isinstance(rest, list) else str(rest[index]))


def report_pdf(report: Report, registry: TemplateRegistry, *, letterhead: Letterhead,
               key_images: Sequence[KeyImage] = (), font_dir: Path | None = None) -> bytes:
    """Render `report` (the version in force, its addenda and history) as PDF bytes.

    Parameters
    ----------
    report
        The report.
    registry
        Templates (every version the report's versions use).
    letterhead
        The practice's name and address lines.
    key_images
        Images to print under "Key images", in order.
    font_dir
        Folder with ``DejaVuSans.ttf`` and ``DejaVuSans-Bold.ttf``; found on the
        system when None (else Helvetica, Latin-1 only).
    """
    doc = _Document(report, font_dir or _font_dir())
    doc.set_title(f"Report {report.uid}")
    doc.set_creator("workbench")
    doc.add_page()
    doc.para(letterhead.name, 16, "B", 8)
    for line in letterhead.lines:
        doc.para(line, 9, "", 4.5)
    doc.line(doc.l_margin, doc.get_y() + 2, doc.w - doc.r_margin, doc.get_y() + 2)
    doc.ln(5)
    shown = report.in_force
    template = registry.get(shown.content.template, shown.content.template_version)
    doc.para(template.title, 14, "B", 7)
    status = report.status
    if status in (ReportStatus.DRAFT, ReportStatus.PRELIMINARY):
        doc.para(f"{status.value.upper()} - NOT SIGNED", 12, "B", 7)
    elif status is ReportStatus.AMENDED:
        doc.para("AMENDED REPORT", 12, "B", 7)
    s = report.subject
    doc.pairs([("Patient", person_name(s.patient_name)),
               ("Patient ID", f"{s.patient_id}" + (f" ({s.issuer})" if s.issuer else "")),
               ("Birth date / sex", f"{_date(s.birth_date)} / {s.sex}".strip(" /")),
               ("Study", f"{_date(s.study_date)} {s.study_description}".strip()),
               ("Modalities / accession", f"{' '.join(s.modalities)} / {s.accession}"),
               ("Referring physician", person_name(s.referring_physician)),
               ("Study UID", s.study_uid)])
    _body(doc, shown, registry)
    if key_images:
        doc.heading("Key images")
        for image in key_images:
            if doc.get_y() > doc.h - 90:
                doc.add_page()
            doc.image(BytesIO(image.image), w=80)
            if image.caption:
                doc.para(image.caption, 9)
    doc.heading("Signature")
    doc.para(_signature_line(shown), 9)
    if shown.kind is VersionKind.AMENDMENT:
        doc.para(f"Amended: {shown.reason}", 9)
        earlier = [v for v in report.signed if v.number < shown.number
                   and v.kind is not VersionKind.ADDENDUM]
        for old in earlier:
            doc.para(f"Replaces the version {old.number} text. {_signature_line(old)}", 9)
    for addendum in report.addenda:
        doc.heading(f"Addendum (version {addendum.number})")
        doc.para(str(addendum.content.values.get("text", "")))
        if addendum.reason:
            doc.para(f"Reason: {addendum.reason}", 9)
        doc.para(_signature_line(addendum), 9)
    out = BytesIO()
    doc.output(out)
    return out.getvalue()
