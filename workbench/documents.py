"""Printable administrative documents (invoices, reports) as HTML and PDF.

A :class:`Document` is a title and a sequence of blocks (:class:`Paragraph`,
:class:`Table`, :class:`Chart`). :func:`to_html` writes one self-contained page (charts
embedded as PNG); :func:`write_pdf` lays the same blocks out on A4 pages with matplotlib,
using the 14 PDF core fonts so that the text stays searchable and extractable. Text is
kept to Latin-1, which those fonts cover. matplotlib is needed only to draw.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

PAGE = (8.27, 11.69)  # A4 portrait, inches
MARGIN = 0.6
ROW = 0.19  # inches per table row


@dataclass(frozen=True)
class Paragraph:
    """A line or two of text."""

    text: str


@dataclass(frozen=True)
class Table:
    """A titled table; ``numeric`` names the right-aligned columns (by index)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()
    footer: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Chart:
    """A bar chart: one bar group per label, one bar per series."""

    title: str
    labels: tuple[str, ...]
    series: Mapping[str, tuple[float, ...]]
    ylabel: str = ""


Block = Paragraph | Table | Chart


@dataclass(frozen=True)
class Document:
    """A printable document."""

    title: str
    subtitle: str = ""
    blocks: tuple[Block, ...] = field(default_factory=tuple)


def money(cents: int, currency: str = "USD") -> str:
    """Integer cents as text.

    Examples
    --------
    >>> money(123456), money(-500), money(7, "EUR")
    ('$1,234.56', '-$5.00', 'EUR 0.07')
    """
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{sign}{symbol}{whole:,}.{part:02d}"


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


@contextmanager
def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("drawing charts and PDF documents needs matplotlib "
                          "(pip install matplotlib)") from exc
    from matplotlib.figure import Figure

    level = logging.getLogger("matplotlib.font_manager").level
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context({"pdf.use14corefonts": True, "font.family": "Helvetica",
                                    "font.size": 8, "axes.titlesize": 10}):
            yield Figure  # figures outside pyplot: no backend chosen, nothing left open
    finally:
        logging.getLogger("matplotlib.font_manager").setLevel(level)


def _draw_chart(ax: Any, chart: Chart) -> None:
    count = max(len(chart.series), 1)
    width = 0.8 / count
    for i, (name, values) in enumerate(chart.series.items()):
        xs = [x + (i - (count - 1) / 2) * width for x in range(len(chart.labels))]
        ax.bar(xs, values, width=width, label=_latin1(name))
    ax.set_xticks(range(len(chart.labels)), [_latin1(label) for label in chart.labels],
                  rotation=45 if len(chart.labels) > 8 else 0, ha="right"
                  if len(chart.labels) > 8 else "center")
    ax.set_title(_latin1(chart.title))
    ax.set_ylabel(_latin1(chart.ylabel))
    if len(chart.series) > 1:
        ax.legend()


def chart_png(chart: Chart) -> bytes:
    """The chart drawn as a PNG image."""
    with _matplotlib() as figure:
        fig = figure(figsize=(7, 3))
        _draw_chart(fig.add_subplot(), chart)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


_CSS = ("body{font-family:Helvetica,Arial,sans-serif;max-width:60em;margin:2em auto;"
        "color:#222}table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}"
        "th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left}"
        "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
        "tfoot td{font-weight:bold;border-top:2px solid #444}img{max-width:100%}")


def _html_table(table: Table) -> str:
    def cells(values: Sequence[str], tag: str) -> str:
        return "".join(f"<{tag}{' class=n' if i in table.numeric else ''}>{escape(v)}</{tag}>"
                       for i, v in enumerate(values))

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in table.rows)
    foot = f"<tfoot><tr>{cells(table.footer, 'td')}</tr></tfoot>" if table.footer else ""
    return (f"<h2>{escape(table.title)}</h2><table><thead><tr>{cells(table.headers, 'th')}"
            f"</tr></thead><tbody>{body}</tbody>{foot}</table>")


def to_html(doc: Document) -> str:
    """The document as one self-contained HTML page."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(doc.title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{escape(doc.title)}</h1>"]
    if doc.subtitle:
        parts.append(f"<p>{escape(doc.subtitle)}</p>")
    for block in doc.blocks:
        if isinstance(block, Paragraph):
            parts.append(f"<p>{escape(block.text)}</p>")
        elif isinstance(block, Table):
            parts.append(_html_table(block))
        else:
            data = base64.b64encode(chart_png(block)).decode("ascii")
            parts.append(f"<h2>{escape(block.title)}</h2><img alt='{escape(block.title)}' "
                         f"src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "".join(parts)


class _Pages:
    """Places blocks top to bottom on A4 pages, starting a new page when one is full."""

    def __init__(self, figure: Any, pdf: Any, doc: Document) -> None:
        self.figure, self.pdf, self.doc = figure, pdf, doc
        self.fig: Any = None
        self.y = 0.0
        self.number = 0

    def need(self, inches: float) -> None:
        if self.fig is None or self.y - inches < MARGIN:
            self.flush()
            self.number += 1
            self.fig = self.figure(figsize=PAGE)
            self.y = PAGE[1] - MARGIN
            self.fig.text(1 - MARGIN / PAGE[0], MARGIN / 2 / PAGE[1],
                          _latin1(f"{self.doc.title} - page {self.number}"), ha="right",
                          fontsize=7, color="#666")

    def text(self, x: float, words: str, **style: Any) -> None:
        self.fig.text(x / PAGE[0], self.y / PAGE[1], _latin1(words), va="top", **style)

    def flush(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)
            self.fig = None


def _columns(table: Table) -> list[float]:
    """Left edges (inches) of the columns, sized by their longest text."""
    widths = [max([len(h)] + [len(r[i]) for r in table.rows]) + 2
              for i, h in enumerate(table.headers)]
    usable = PAGE[0] - 2 * MARGIN
    scale = usable / max(sum(widths), 1)
    edges, x = [], MARGIN
    for w in widths:
        edges.append(x)
        x += w * scale
    return [*edges, PAGE[0] - MARGIN]


def _pdf_table(pages: _Pages, table: Table) -> None:
    edges = _columns(table)

    def row(values: Sequence[str], **style: Any) -> None:
        pages.need(ROW)
        for i, value in enumerate(values):
            if i in table.numeric:
                pages.text(edges[i + 1] - 0.15, value, ha="right", **style)
            else:
                pages.text(edges[i], value, **style)
        pages.y -= ROW

    pages.need(0.4 + 2 * ROW)
    pages.text(MARGIN, table.title, fontsize=11, weight="bold")
    pages.y -= 0.3
    row(table.headers, weight="bold")
    for values in table.rows:
        row(values)
    if table.footer:
        row(table.footer, weight="bold")
    pages.y -= 0.2


def write_pdf(doc: Document, path: Path) -> Path:
    """Write the document as a PDF of A4 pages; returns ``path``."""
    from matplotlib.backends.backend_pdf import PdfPages

    with _matplotlib() as figure, PdfPages(path, metadata={"Title": _latin1(doc.title)}) as pdf:
        pages = _Pages(figure, pdf, doc)
        pages.need(0.8)
        pages.text(MARGIN, doc.title, fontsize=16, weight="bold")
        pages.y -= 0.35
        if doc.subtitle:
            pages.text(MARGIN, doc.subtitle, fontsize=9)
            pages.y -= 0.3
        for block in doc.blocks:
            if isinstance(block, Paragraph):
                pages.need(ROW)
                pages.text(MARGIN, block.text)
                pages.y -= ROW + 0.05
            elif isinstance(block, Table):
                _pdf_table(pages, block)
            else:
                height = 3.0
                pages.need(height + 0.2)
                ax = pages.fig.add_axes([(MARGIN + 0.5) / PAGE[0],
                                         (pages.y - height + 0.7) / PAGE[1],
                                         (PAGE[0] - 2 * MARGIN - 0.7) / PAGE[0],
                                         (height - 1.0) / PAGE[1]])
                _draw_chart(ax, block)
                pages.y -= height + 0.2
        pages.flush()
    return path


def write_document(doc: Document, stem: Path) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.pdf``; their paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    html = stem.with_name(stem.name + ".html")
    html.write_text(to_html(doc), encoding="utf-8")
    return html, write_pdf(doc, stem.with_name(stem.name + ".pdf"))
