"""``Viewer(dataarray)`` served as a notebook page would be (``pn.serve``), in Chromium.

The pixels come from the kernel (no archive): the test serves the viewer of a
synthetic CT volume on a free loopback port, scrolls and clicks in the browser, and
checks that the viewer's parameters in Python followed; then it switches the plane
from Python and checks the browser's image and orientation letters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import panel as pn
import pytest
import xarray as xr

from tests.browser.test_reading import CANVAS_STATS, wait_for
from tests.conftest import free_port
from tests.synth import make_ct
from workbench.imaging.mpr import reformat
from workbench.imaging.volume import series_volume
from workbench.viewer import Viewer

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def volume() -> xr.DataArray:
    return series_volume(make_ct(n=12, rows=96, columns=80, seed=6))


@pytest.fixture
def served(volume: xr.DataArray) -> Iterator[tuple[Viewer, str]]:
    viewer = Viewer(volume)
    port = free_port()
    server = pn.serve({"/": lambda: pn.panel(viewer)}, port=port, address="127.0.0.1",
                      threaded=True, show=False, start=True)
    try:
        yield viewer, f"http://127.0.0.1:{port}/"
    finally:
        server.stop()


def test_viewer_of_a_dataarray_follows_the_reader(
        chromium: Any, served: tuple[Viewer, str], volume: xr.DataArray,
        artifacts: Path) -> None:
    viewer, url = served
    page = chromium.new_page(viewport={"width": 900, "height": 700})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(url)
        view = page.locator(".wb-viewport").first
        attr = lambda name: str(view.get_attribute(f"data-{name}") or "")  # noqa: E731
        wait_for(lambda: attr("count") == "12" and attr("drawn") == "0",
                 what="the first slice drawn from the kernel's pixels")
        wait_for(lambda: attr("loaded") == "12", what="every slice sent by the kernel")
        assert attr("wl") == "W 400 L 40"                 # the volume's window attribute
        first = wait_for(lambda: (c := view.locator("canvas.wb-image").evaluate(CANVAS_STATS))
                         and c["mean"] > 5 and c, what="an image drawn")

        box = view.bounding_box()
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(*centre)
        for _ in range(4):
            page.mouse.wheel(0, 100)
        wait_for(lambda: attr("drawn") == "4", what="four slices scrolled")
        wait_for(lambda: viewer.slice == 4, what="the slice reaching Python")
        assert view.locator("canvas.wb-image").evaluate(CANVAS_STATS)["hash"] != first["hash"]

        page.mouse.click(*centre)                         # a click selects a voxel
        wait_for(lambda: viewer.selection is not None, what="the selection reaching Python")
        slice_, row, col = viewer.selection
        assert slice_ == 4 and abs(row - 48) <= 2 and abs(col - 40) <= 2
        assert viewer.selection_mm is not None

        viewer.level, viewer.window = -600, 1500          # Python -> browser
        wait_for(lambda: attr("wl") == "W 1500 L -600", what="the window set from Python")

        before = view.locator("canvas.wb-image").evaluate(CANVAS_STATS)
        viewer.orientation = "coronal"                    # the plane holding the selection
        wait_for(lambda: attr("orientation") == "coronal", what="the coronal plane")
        assert attr("count") == "96" and viewer.slice == row
        wait_for(lambda: attr("drawn") == str(row), what="the coronal image drawn")
        marks = {side: view.locator(f".wb-marker-{side}").text_content()
                 for side in ("top", "bottom", "left", "right")}
        assert marks == {"top": "H", "bottom": "F", "left": "R", "right": "L"}
        coronal = wait_for(
            lambda: (c := view.locator("canvas.wb-image").evaluate(CANVAS_STATS))
            and c["hash"] != before["hash"] and c, what="the coronal image on the canvas")
        assert coronal["mean"] > 1
        # the value under the cursor is the library's coronal reformat at that pixel
        expected = reformat(volume, "coronal").values[row]
        for fx, fy in ((0.3, 0.2), (0.7, 0.8)):
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            text = wait_for(lambda: next((line for line in view.locator(".wb-bl div")
                                          .all_text_contents() if line.startswith("(")), ""),
                            what="the value under the cursor")
            at, value = text.split(": ")
            c, r = (int(v) for v in at.strip("()").split(", "))
            assert float(value.split()[0]) == pytest.approx(float(expected[r, c]), abs=0.01)
        page.screenshot(path=artifacts / "notebook-viewer-coronal.png")
        assert errors == []
    finally:
        page.close()
