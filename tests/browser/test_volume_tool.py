"""The volume tool in headless Chromium against the real archive (marker ``browser``).

A practice of its own stores a CT of a ball of known radius
(``tests/workbench/measure/sphere_series.py``). The reader scrolls to the ball's middle,
picks the volume tool and clicks the ball: the text shown must give the ball's voxel
count and volume, and the overlay must be drawn (``data-mask-voxels`` of the viewport,
the mask's pixels on the image shown, a translucent pixel on the mask canvas). A brush
stroke beside the ball adds voxels; "Save as SEG" stores the mask in the archive; when
the study is opened again the stored mask is drawn again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.browser.conftest import ReadingData, logged_in_page
from tests.browser.test_reading import wait_for
from tests.server.people import VALID_NPIS, Person, active_practice, stow
from tests.workbench.measure.sphere_series import INSIDE_HU, RADIUS, sphere_series
from workbench.imaging.volume import series_volume

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("reading-app")]

ACCESSION = "ACC-VOLUME"
SIZE = 52
_INTERCEPT = -1024


@dataclass
class Ball:
    reader: Person
    study: str
    inside: int
    seed: tuple[int, int, int]     # display index (= slice along the normal), row, col
    on_seed_slice: int             # the ball's pixels on that image


@pytest.fixture(scope="module")
def ball(reading: ReadingData) -> Ball:
    """A practice on the reading archive with the ball's CT."""
    reader = active_practice(reading.archive, "volume@clinic.example", npi=VALID_NPIS[4],
                             practice="Volume clinic")
    series = sphere_series(seed=71, n=48, size=SIZE)
    for ds in series.slices:
        ds.AccessionNumber = ACCESSION
        ds.StudyDate = "20260312"
    r = stow(reading.archive, reader.headers, series.slices)
    assert r.status_code == 200, r.text
    volume = series_volume(series.slices)   # display order: along the normal, as z
    matrix = np.asarray(volume.attrs["affine"])
    x, y, z = np.linalg.solve(matrix[:3, :3], np.asarray(series.centre) - matrix[:3, 3])
    seed = (int(round(z)), int(round(y)), int(round(x)))
    on_slice = int((volume.values[seed[0]] == INSIDE_HU).sum())
    return Ball(reader, series.study_uid, series.inside, seed, on_slice)


@pytest.fixture(scope="module")
def vpage(chromium: Any, reading: ReadingData, ball: Ball) -> Iterator[Any]:
    """A page of its own, logged in as the practice's reader."""
    with logged_in_page(chromium, reading.archive.url, ball.reader.email) as page:
        yield page


def view(page: Any) -> Any:
    return page.locator(".wb-viewport").first


def data(page: Any, name: str) -> str:
    return str(view(page).get_attribute(f"data-{name}") or "")


def text_of(page: Any, css: str) -> str:
    """The text of a Str pane (a ``<pre>`` in the shadow root of the classed element)."""
    found = page.locator(f"{css} pre")
    return str(found.first.text_content() or "").strip() if found.count() else ""


def open_study(page: Any, reading: ReadingData, ball: Ball) -> None:
    """Open the study and show the image through the ball's centre."""
    page.goto(reading.archive.url + "/")
    page.locator(".wb-account").wait_for(timeout=60_000)
    page.locator(".wb-row", has_text=ACCESSION).click(timeout=90_000)
    wait_for(lambda: data(page, "count") == "48" and data(page, "drawn") != "",
             timeout=120, what="the CT drawn")
    view(page).focus()
    page.keyboard.press("Home")
    for _ in range(ball.seed[0]):
        page.keyboard.press("ArrowDown")
    wait_for(lambda: data(page, "drawn") == str(ball.seed[0]), timeout=60,
             what="the ball's middle image drawn")


def to_screen(page: Any, row: float, col: float) -> tuple[float, float]:
    """Page coordinates of image pixel (row, col): the image is centred at zoom 1."""
    box = view(page).bounding_box()
    width, height = (int(v) for v in data(page, "image-size").split("x"))
    left, top = box["x"] + (box["width"] - width) / 2, box["y"] + (box["height"] - height) / 2
    return left + (col + 0.5) / SIZE * width, top + (row + 0.5) / SIZE * height


def use(page: Any, tool: str) -> None:
    """Pick a left-button tool and wait until the viewport has it (a server round trip)."""
    page.get_by_role("button", name=tool, exact=True).click()
    wait_for(lambda: data(page, "tool") == tool, timeout=60, what=f"the {tool} tool")


def mask_alpha(page: Any, x: float, y: float) -> int:
    """Alpha of the mask canvas under page point (x, y)."""
    alpha: int = view(page).locator("canvas.wb-mask").evaluate(
        """(canvas, [x, y]) => {
             const rect = canvas.getBoundingClientRect(), ratio = canvas.width / rect.width;
             const px = canvas.getContext("2d").getImageData(
               Math.floor((x - rect.left) * ratio), Math.floor((y - rect.top) * ratio), 1, 1);
             return px.data[3];
           }""", [x, y])
    return alpha


def test_click_grows_the_ball_brush_adds_and_the_seg_comes_back(
        vpage: Any, reading: ReadingData, ball: Ball, artifacts: Path) -> None:
    page = vpage
    open_study(page, reading, ball)
    index, row, col = ball.seed
    use(page, "volume")
    page.mouse.click(*to_screen(page, row, col))
    shown = wait_for(lambda: text_of(page, ".wb-volume-result"), timeout=120,
                     what="the volume shown")
    assert shown.startswith(f"{ball.inside / 1000:.2f} mL ({ball.inside} voxels); surface ")
    surface = float(shown.split("surface ", 1)[1].split(" mL", 1)[0])
    assert abs(surface / (4 / 3 * math.pi * RADIUS**3 / 1000) - 1) < 0.01
    assert "mean 60.0 HU SD 0.0 HU" in shown
    wait_for(lambda: data(page, "mask-voxels") == str(ball.inside), timeout=60,
             what="the overlay received")
    wait_for(lambda: data(page, "mask-slice") == str(ball.on_seed_slice), timeout=60,
             what="the mask drawn on the image shown")
    assert mask_alpha(page, *to_screen(page, row, col)) > 0          # inside: coloured
    assert mask_alpha(page, *to_screen(page, 1, 1)) == 0              # a corner: clear
    page.screenshot(path=artifacts / "volume-1-grown.png")

    use(page, "brush")
    start, end = to_screen(page, row - 6, col + 23), to_screen(page, row + 6, col + 23)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()
    wait_for(lambda: int(data(page, "mask-voxels") or 0) > ball.inside, timeout=120,
             what="the brushed voxels added")
    brushed = int(data(page, "mask-voxels"))
    wait_for(lambda: f"({brushed} voxels)" in text_of(page, ".wb-volume-result"), timeout=60,
             what="the volume measured again")
    page.screenshot(path=artifacts / "volume-2-brushed.png")

    page.get_by_role("button", name="Save as SEG", exact=True).click()
    saved = wait_for(lambda: text_of(page, ".wb-volume-message").startswith("Stored SEG")
                     and text_of(page, ".wb-volume-message"), timeout=120, what="the SEG stored")
    assert saved.startswith(f"Stored SEG 'region' ({brushed} voxels) as ")
    r = httpx.get(f"{reading.archive.url}/dicom-web/studies/{ball.study}/series",
                  params={"Modality": "SEG"}, headers=ball.reader.headers, timeout=30)
    assert r.status_code == 200 and len(r.json()) == 1, r.text

    # reopened: the stored SEG is read back onto the series and drawn again
    open_study(page, reading, ball)
    wait_for(lambda: data(page, "mask-voxels") == str(brushed), timeout=120,
             what="the stored mask drawn again")
    assert text_of(page, ".wb-volume-message") == "1 stored segment(s) of this series: 1 shown"
    assert f"({brushed} voxels)" in text_of(page, ".wb-volume-result")
    assert int(data(page, "mask-slice")) > ball.on_seed_slice
    page.screenshot(path=artifacts / "volume-3-reopened.png")
    assert page.errors == []
