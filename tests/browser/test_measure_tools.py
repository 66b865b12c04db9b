"""Measurement tools in headless Chromium against the real archive (marker ``browser``).

A practice of its own (the reading-app tests' worklist stays as they expect) stores a CT
of 128 x 128 pixels. The reader draws a length and an ellipse with the mouse on the
overlay; the archive measures them, and the numbers shown beside the shapes must be the
length of the points drawn at the CT's Pixel Spacing, and the ellipse's area with its
mean in HU. After the page is loaded again and the study reopened, both are shown again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import ReadingData, logged_in_page
from tests.browser.test_reading import wait_for
from tests.server.people import VALID_NPIS, Person, active_practice, stow
from tests.synth import make_ct, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("reading-app")]

STUDY = "2.25.4200001"


@dataclass
class Measured:
    reader: Person
    spacing: tuple[float, float]
    rows: int
    columns: int


@pytest.fixture(scope="module")
def measured(reading: ReadingData) -> Measured:
    """A third practice on the reading archive with one CT."""
    reader = active_practice(reading.archive, "measure@clinic.example", npi=VALID_NPIS[3],
                             practice="Measure clinic")
    ct = make_ct(n=6, rows=128, columns=128, seed=42, patient=make_patient(42),
                 study_uid=STUDY, accession="ACC-MEASURE", study_date="20260311")
    r = stow(reading.archive, reader.headers, ct)
    assert r.status_code == 200, r.text
    row, col = (float(v) for v in ct[0].PixelSpacing)
    return Measured(reader, (row, col), int(ct[0].Rows), int(ct[0].Columns))


@pytest.fixture(scope="module")
def mpage(chromium: Any, reading: ReadingData, measured: Measured) -> Iterator[Any]:
    """A page of its own, logged in as the third practice's reader."""
    with logged_in_page(chromium, reading.archive.url, measured.reader.email) as page:
        yield page


def view(page: Any) -> Any:
    return page.locator(".wb-viewport").first


def data(page: Any, name: str) -> str:
    return str(view(page).get_attribute(f"data-{name}") or "")


def open_study(page: Any, reading: ReadingData) -> None:
    page.goto(reading.archive.url + "/")
    page.locator(".wb-account").wait_for(timeout=60_000)
    page.locator(".wb-row", has_text="ACC-MEASURE").click(timeout=90_000)
    wait_for(lambda: data(page, "count") == "6" and data(page, "drawn") != "",
             timeout=120, what="the CT drawn")


def to_screen(page: Any, measured: Measured, row: float, col: float) -> tuple[float, float]:
    """Page coordinates of image pixel (row, col): the image is centred at zoom 1."""
    box = view(page).bounding_box()
    width, height = (int(v) for v in data(page, "image-size").split("x"))
    left, top = box["x"] + (box["width"] - width) / 2, box["y"] + (box["height"] - height) / 2
    return (left + (col + 0.5) / measured.columns * width,
            top + (row + 0.5) / measured.rows * height)


def use(page: Any, tool: str) -> None:
    """Pick a left-button tool and wait until the viewport has it (a server round trip)."""
    page.get_by_role("button", name=tool, exact=True).click()
    wait_for(lambda: data(page, "tool") == tool, timeout=60, what=f"the {tool} tool")


def drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def label(page: Any, kind: str) -> str:
    """Text beside the stored (not pending) shape of `kind`, or ''."""
    shape = page.locator(f".wb-annotations g.wb-ann[data-kind={kind}][data-id]")
    return str(shape.first.locator("text").text_content()) if shape.count() else ""


def stored(reading: ReadingData, measured: Measured) -> list[dict[str, Any]]:
    r = httpx.get(f"{reading.archive.url}/api/studies/{STUDY}/annotations",
                  headers=measured.reader.headers, timeout=30)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def test_length_and_ellipse_drawn_measured_and_shown_again(
        mpage: Any, reading: ReadingData, measured: Measured, artifacts: Path) -> None:
    page = mpage
    open_study(page, reading)
    use(page, "length")
    start, end = (20.0, 30.0), (90.0, 100.0)   # (row, col) aimed at
    drag(page, to_screen(page, measured, *start), to_screen(page, measured, *end))
    shown = wait_for(lambda: label(page, "length"), timeout=60, what="the length shown")

    [length] = [a for a in stored(reading, measured) if a["kind"] == "length"]
    (r0, c0), (r1, c1) = length["points"]
    for got, aimed in ((r0, start[0]), (c0, start[1]), (r1, end[0]), (c1, end[1])):
        assert abs(got - aimed) <= 1.0          # the points drawn, within a pixel
    rs, cs = measured.spacing
    expected = math.hypot((r1 - r0) * rs, (c1 - c0) * cs)
    assert shown == f"{expected:.1f} mm (Pixel Spacing)"

    use(page, "ellipse")
    top_left, bottom_right = (60.0, 20.0), (100.0, 60.0)
    drag(page, to_screen(page, measured, *top_left), to_screen(page, measured, *bottom_right))
    text = wait_for(lambda: label(page, "ellipse"), timeout=60, what="the ellipse shown")
    area_text, _, rest = text.partition(" mm\u00b2 mean ")
    assert rest.endswith(" HU (Pixel Spacing)"), text
    analytic = math.pi * 20 * rs * 20 * cs
    assert float(area_text) == pytest.approx(analytic, rel=0.1)
    page.screenshot(path=artifacts / "measure-1-drawn.png")

    # reopened: the same texts beside the same shapes
    index = data(page, "index")
    open_study(page, reading)
    wait_for(lambda: data(page, "index") == index and data(page, "annotations") == "2",
             timeout=60, what="both annotations shown again")
    assert label(page, "length") == shown
    assert label(page, "ellipse") == text
    page.screenshot(path=artifacts / "measure-2-reopened.png")
    assert page.errors == []


def test_handle_moved_is_measured_again_and_delete_removes(
        mpage: Any, reading: ReadingData, measured: Measured) -> None:
    page = mpage
    open_study(page, reading)
    wait_for(lambda: data(page, "annotations") == "2", timeout=60, what="the annotations")
    [length] = [a for a in stored(reading, measured) if a["kind"] == "length"]
    before = label(page, "length")
    use(page, "select")
    end = length["points"][1]
    drag(page, to_screen(page, measured, *end), to_screen(page, measured, end[0], end[1] + 20))
    wait_for(lambda: label(page, "length") not in ("", before), timeout=60,
             what="the length measured again")
    [moved] = [a for a in stored(reading, measured) if a["kind"] == "length"]
    assert moved["id"] == length["id"] and abs(moved["points"][1][1] - (end[1] + 20)) <= 1.0
    (r0, c0), (r1, c1) = moved["points"]
    rs, cs = measured.spacing
    expected = math.hypot((r1 - r0) * rs, (c1 - c0) * cs)
    assert label(page, "length") == f"{expected:.1f} mm (Pixel Spacing)"

    # the moved shape is selected: the Delete key removes it from the archive
    view(page).focus()
    page.keyboard.press("Delete")
    wait_for(lambda: data(page, "annotations") == "1", timeout=60, what="the length deleted")
    assert [a["kind"] for a in stored(reading, measured)] == ["ellipse"]
    assert page.errors == []
