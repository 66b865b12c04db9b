"""Multiplanar display in the reading app: coronal and sagittal cut in the browser.

Opens the practice's CT (24 axial slices of 128 x 128, 0.7 mm pixels, 2.5 mm apart),
switches the plane with the viewer's toolbar and checks the image, its aspect ratio in
millimetres and the orientation letters of the reformatted planes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ReadingData
from tests.browser.test_reading import attr, canvas, open_series, viewport, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("reading-app")]


def markers(page: Any) -> dict[str, str]:
    return {side: str(viewport(page).locator(f".wb-marker-{side}").text_content())
            for side in ("top", "bottom", "left", "right")}


def drawn_aspect(page: Any) -> float:
    width, height = (int(v) for v in attr(page, "image-size").split("x"))
    return height / width


def test_coronal_and_sagittal_planes_of_the_ct(
        page: Any, reading: ReadingData, artifacts: Path) -> None:
    open_series(page, reading, "CT AXIAL")
    slices = str(reading.ct_slices)
    wait_for(lambda: attr(page, "count") == slices and attr(page, "loaded") == slices
             and attr(page, "image-size"), what="every CT slice fetched, one drawn")
    assert markers(page) == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert abs(drawn_aspect(page) - 1.0) < 0.02                  # 128 x 128 at 0.7 mm
    axial = wait_for(lambda: (c := canvas(page)) and c["mean"] > 5 and c, what="axial image")

    page.locator(".wb-planes").get_by_role("button", name="coronal").click()
    wait_for(lambda: attr(page, "orientation") == "coronal", what="the coronal plane")
    assert attr(page, "count") == "128"                          # one image per row
    wait_for(lambda: attr(page, "drawn") == "64", what="the middle coronal image")
    assert markers(page) == {"top": "H", "bottom": "F", "left": "R", "right": "L"}
    # 24 slices x 2.5 mm tall, 128 columns x 0.7 mm wide
    assert abs(drawn_aspect(page) - (24 * 2.5) / (128 * 0.7)) < 0.02
    coronal = wait_for(lambda: (c := canvas(page)) and c["hash"] != axial["hash"] and c,
                       what="the coronal image drawn")
    assert coronal["mean"] > 5
    page.screenshot(path=artifacts / "7-ct-coronal.png")

    viewport(page).hover()
    page.mouse.wheel(0, 100)                                     # scrolls through the plane
    wait_for(lambda: attr(page, "drawn") == "65", what="the next coronal image")
    assert canvas(page)["hash"] != coronal["hash"]

    page.locator(".wb-planes").get_by_role("button", name="sagittal").click()
    wait_for(lambda: attr(page, "orientation") == "sagittal" and attr(page, "drawn") == "64",
             what="the middle sagittal image")
    assert markers(page) == {"top": "H", "bottom": "F", "left": "A", "right": "P"}
    page.screenshot(path=artifacts / "8-ct-sagittal.png")

    page.locator(".wb-planes").get_by_role("button", name="acquired").click()
    wait_for(lambda: attr(page, "orientation") == "acquired" and attr(page, "count") == slices,
             what="back to the acquired slices")
    assert markers(page)["top"] == "A"
    assert page.errors == [], page.errors
