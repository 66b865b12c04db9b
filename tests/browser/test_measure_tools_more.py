"""The other measurement tools in headless Chromium against the real archive (``browser``).

A practice of its own stores a CT of 128 x 128 pixels (0.7 mm Pixel Spacing). The reader
draws with the mouse at known image pixels an angle (3 clicks), a Cobb angle (4 clicks),
a bidirectional (drag), a rectangle (drag), a freehand outline (a dragged path), a probe
(1 click), an arrow (drag) and a text (1 click and the page's ``prompt()``). The numbers
shown beside the stored shapes must be those of the pixels aimed at: degrees from the
vectors, axes and areas in mm at the Pixel Spacing, mean and probe values in HU equal to
the stored CT pixels through the rescale. The JSON API must hold each kind with its
point count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from tests.browser.conftest import ReadingData, logged_in_page
from tests.browser.test_measure_tools import Measured, data, drag, label, to_screen, use
from tests.browser.test_reading import wait_for
from tests.server.people import VALID_NPIS, active_practice, stow
from tests.synth import make_ct, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("reading-app")]

STUDY = "2.25.4200101"
ACCESSION = "ACC-MORE-TOOLS"
Pixel = tuple[float, float]


@dataclass
class More:
    measured: Measured
    hu: dict[str, npt.NDArray[np.float64]]   # SOP Instance UID -> the image in HU


@pytest.fixture(scope="module")
def more(reading: ReadingData) -> More:
    """A practice of its own on the reading archive with one CT."""
    reader = active_practice(reading.archive, "measure-more@clinic.example",
                             npi=VALID_NPIS[0], practice="More tools clinic")
    ct = make_ct(n=4, rows=128, columns=128, seed=43, patient=make_patient(43),
                 study_uid=STUDY, accession=ACCESSION, study_date="20260312")
    r = stow(reading.archive, reader.headers, ct)
    assert r.status_code == 200, r.text
    row, col = (float(v) for v in ct[0].PixelSpacing)
    hu = {str(ds.SOPInstanceUID):
          np.frombuffer(ds.PixelData, "<u2").reshape(ds.Rows, ds.Columns).astype(np.float64)
          * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in ct}
    return More(Measured(reader, (row, col), int(ct[0].Rows), int(ct[0].Columns)), hu)


@pytest.fixture(scope="module")
def mpage(chromium: Any, reading: ReadingData, more: More) -> Iterator[Any]:
    """A page of its own, logged in as this practice's reader."""
    with logged_in_page(chromium, reading.archive.url, more.measured.reader.email) as page:
        yield page


def open_study(page: Any, reading: ReadingData) -> None:
    page.goto(reading.archive.url + "/")
    page.locator(".wb-account").wait_for(timeout=60_000)
    page.locator(".wb-row", has_text=ACCESSION).click(timeout=90_000)
    wait_for(lambda: data(page, "count") == "4" and data(page, "drawn") != "",
             timeout=120, what="the CT drawn")


def stored(reading: ReadingData, more: More, kind: str) -> dict[str, Any]:
    """The one annotation of `kind` the archive holds for the study."""
    r = httpx.get(f"{reading.archive.url}/api/studies/{STUDY}/annotations",
                  headers=more.measured.reader.headers, timeout=30)
    assert r.status_code == 200, r.text
    [found] = [a for a in r.json() if a["kind"] == kind]
    return dict(found)


def click(page: Any, more: More, *pixels: Pixel) -> None:
    for row, col in pixels:
        page.mouse.click(*to_screen(page, more.measured, row, col))


def near(got: list[list[float]], aimed: list[Pixel] | tuple[Pixel, ...]) -> bool:
    """Whether the stored points are those aimed at, within a pixel each."""
    return len(got) == len(aimed) and all(
        abs(g - a) <= 1.0 for p, q in zip(got, aimed, strict=True) for g, a in zip(p, q,
                                                                                    strict=True))


def degrees(more: More, u: tuple[Pixel, Pixel], w: tuple[Pixel, Pixel]) -> float:
    """The angle between the directed segments u and w in mm space, in degrees."""
    rs, cs = more.measured.spacing
    ur, uc = (u[1][0] - u[0][0]) * rs, (u[1][1] - u[0][1]) * cs
    wr, wc = (w[1][0] - w[0][0]) * rs, (w[1][1] - w[0][1]) * cs
    return math.degrees(math.atan2(abs(ur * wc - uc * wr), ur * wr + uc * wc))


def mm(more: More, a: Pixel | list[float], b: Pixel | list[float]) -> float:
    rs, cs = more.measured.spacing
    return math.hypot((b[0] - a[0]) * rs, (b[1] - a[1]) * cs)


def shoelace(points: list[list[float]] | list[Pixel]) -> float:
    p = np.asarray(points, dtype=np.float64)
    r, c = p[:, 0], p[:, 1]
    return abs(float(np.dot(r, np.roll(c, -1)) - np.dot(c, np.roll(r, -1)))) / 2


def test_angle_cobb_and_bidirectional(mpage: Any, reading: ReadingData, more: More) -> None:
    page = mpage
    open_study(page, reading)

    # two clicks of an angle, then another tool: the half-drawn angle is dropped, not
    # finished by the next angle's first click
    use(page, "angle")
    click(page, more, (10.0, 100.0), (30.0, 110.0))
    drawing = page.locator(".wb-annotations g.wb-ann-drawing")
    wait_for(lambda: drawing.count() == 1, timeout=30, what="the angle being drawn")
    use(page, "length")
    wait_for(lambda: drawing.count() == 0, timeout=30, what="the half-drawn angle dropped")

    use(page, "angle")
    arm1, vertex, arm2 = (15.0, 30.0), (40.0, 15.0), (40.0, 45.0)
    click(page, more, arm1, vertex, arm2)
    shown = wait_for(lambda: label(page, "angle"), timeout=60, what="the angle shown")
    angle = stored(reading, more, "angle")
    assert near(angle["points"], (arm1, vertex, arm2)), angle["points"]
    a, v, b = ((float(r), float(c)) for r, c in angle["points"])
    assert shown == f"{degrees(more, (v, a), (v, b)):.1f}\u00b0"
    assert float(shown.rstrip("\u00b0")) == pytest.approx(
        degrees(more, (vertex, arm1), (vertex, arm2)), abs=2.0)   # 59.0 degrees aimed at

    use(page, "cobb")
    line1, line2 = ((60.0, 10.0), (62.0, 40.0)), ((75.0, 10.0), (90.0, 40.0))
    click(page, more, *line1, *line2)
    shown = wait_for(lambda: label(page, "cobb"), timeout=60, what="the Cobb angle shown")
    cobb = stored(reading, more, "cobb")
    assert near(cobb["points"], (*line1, *line2)), cobb["points"]
    p = [(float(r), float(c)) for r, c in cobb["points"]]
    between = degrees(more, (p[0], p[1]), (p[2], p[3]))
    assert shown == f"{min(between, 180 - between):.1f}\u00b0"
    assert float(shown.rstrip("\u00b0")) == pytest.approx(
        degrees(more, line1, line2), abs=2.0)                     # 22.8 degrees aimed at

    use(page, "bidirectional")
    start, end = (100.0, 20.0), (110.0, 60.0)
    drag(page, to_screen(page, more.measured, *start), to_screen(page, more.measured, *end))
    shown = wait_for(lambda: label(page, "bidirectional"), timeout=60,
                     what="the bidirectional shown")
    bi = stored(reading, more, "bidirectional")
    assert len(bi["points"]) == 4
    assert near(bi["points"][:2], (start, end)), bi["points"]
    long_mm, short_mm = mm(more, *bi["points"][:2]), mm(more, *bi["points"][2:])
    assert shown == f"{long_mm:.1f} mm x {short_mm:.1f} mm (Pixel Spacing)"
    assert long_mm == pytest.approx(mm(more, start, end), abs=1.5 * more.measured.spacing[0])
    assert short_mm == pytest.approx(long_mm / 2, rel=1e-3)      # half as long,
    (r0, c0), (r1, c1), (r2, c2), (r3, c3) = bi["points"]        # across the middle,
    assert ((r2 + r3) / 2, (c2 + c3) / 2) == pytest.approx(((r0 + r1) / 2, (c0 + c1) / 2))
    assert (r1 - r0) * (r3 - r2) + (c1 - c0) * (c3 - c2) == pytest.approx(0, abs=1e-3)
    assert page.errors == []


def test_rectangle_freehand_and_probe(mpage: Any, reading: ReadingData, more: More) -> None:
    page = mpage
    open_study(page, reading)
    rs, cs = more.measured.spacing

    use(page, "rectangle")
    corner0, corner1 = (20.0, 70.0), (40.0, 100.0)
    drag(page, to_screen(page, more.measured, *corner0),
         to_screen(page, more.measured, *corner1))
    text = wait_for(lambda: label(page, "rectangle"), timeout=60, what="the rectangle shown")
    rect = stored(reading, more, "rectangle")
    assert near(rect["points"], (corner0, corner1)), rect["points"]
    (r0, c0), (r1, c1) = rect["points"]
    hu = more.hu[rect["sop_instance_uid"]]
    rows, cols = np.arange(hu.shape[0]), np.arange(hu.shape[1])
    inside = np.outer((rows >= min(r0, r1)) & (rows <= max(r0, r1)),
                      (cols >= min(c0, c1)) & (cols <= max(c0, c1)))
    values = hu[inside]
    area = abs((r1 - r0) * (c1 - c0)) * rs * cs
    assert text == (f"{area:.1f} mm\u00b2 mean {values.mean():.1f} HU "
                    f"SD {values.std():.1f} HU (Pixel Spacing)")
    assert area == pytest.approx(20 * 30 * rs * cs, rel=0.05)   # 294 mm2 aimed at

    use(page, "freehand")
    outline = [(50.0, 70.0), (50.0, 100.0), (75.0, 100.0), (75.0, 70.0), (51.0, 70.0)]
    page.mouse.move(*to_screen(page, more.measured, *outline[0]))
    page.mouse.down()
    for corner in outline[1:]:
        page.mouse.move(*to_screen(page, more.measured, *corner), steps=10)
    page.mouse.up()
    text = wait_for(lambda: label(page, "freehand"), timeout=60, what="the freehand shown")
    free = stored(reading, more, "freehand")
    assert len(free["points"]) >= 4
    area = shoelace(free["points"]) * rs * cs
    assert text.startswith(f"{area:.1f} mm\u00b2 mean "), text
    assert text.endswith(" HU (Pixel Spacing)"), text
    assert area == pytest.approx(shoelace(outline) * rs * cs, rel=0.05)   # 368 mm2 aimed at

    use(page, "probe")
    spot = (90.0, 90.0)
    click(page, more, spot)
    text = wait_for(lambda: label(page, "probe"), timeout=60, what="the probe shown")
    probe = stored(reading, more, "probe")
    assert near(probe["points"], (spot,)), probe["points"]
    row, col = (round(v) for v in probe["points"][0])
    assert probe["measurement"]["index"] == [row, col]
    assert text == f"{more.hu[probe['sop_instance_uid']][row, col]:.1f} HU"
    assert page.errors == []


def test_arrow_and_text(mpage: Any, reading: ReadingData, more: More, artifacts: Path) -> None:
    page = mpage
    open_study(page, reading)

    use(page, "arrow")
    tail, head = (100.0, 95.0), (115.0, 115.0)
    drag(page, to_screen(page, more.measured, *tail), to_screen(page, more.measured, *head))
    arrow = page.locator(".wb-annotations g.wb-ann[data-kind=arrow][data-id]")
    wait_for(lambda: arrow.count() == 1, timeout=60, what="the arrow stored")
    assert arrow.locator("line").count() == 3 and arrow.locator("text").count() == 0
    stored_arrow = stored(reading, more, "arrow")
    assert near(stored_arrow["points"], (tail, head)), stored_arrow["points"]
    assert stored_arrow["measurement"] is None

    typed, asked = "Node 4R <b>", []

    def answer(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.accept(typed)

    use(page, "text")
    page.on("dialog", answer)
    try:
        click(page, more, (120.0, 60.0))
        shown = wait_for(lambda: label(page, "text"), timeout=60, what="the text shown")
    finally:
        page.remove_listener("dialog", answer)
    assert asked == ["prompt"] and shown == typed
    note = stored(reading, more, "text")
    assert note["label"] == typed and note["measurement"] is None
    assert near(note["points"], ((120.0, 60.0),)), note["points"]

    # all eight kinds stored once, each with its points
    r = httpx.get(f"{reading.archive.url}/api/studies/{STUDY}/annotations",
                  headers=more.measured.reader.headers, timeout=30)
    counts = {a["kind"]: len(a["points"]) for a in r.json()}
    assert len(r.json()) == 8, r.json()
    assert counts.pop("freehand") >= 4
    assert counts == {"angle": 3, "cobb": 4, "bidirectional": 4, "rectangle": 2, "probe": 1,
                      "arrow": 2, "text": 1}
    wait_for(lambda: data(page, "annotations") == "8", timeout=60, what="all eight shown")
    page.screenshot(path=artifacts / "measure-more-tools.png")
    assert page.errors == []
