"""Hanging protocols in headless Chromium against the real archive (marker ``browser``).

A practice of its own (so the reading-app tests' worklist stays as they expect) stores a
chest CT of 24 slices of 2.5 mm and its prior of 12 slices of 5 mm. Opening the CT must
hang it beside the prior (the shipped "CT chest with prior", fetched from the archive's
API), with the two viewports synchronised in the browser: scrolling one moves the other
to the same patient position (not the same index), dragging window/level on one windows
the other. ``]`` shows the next stage (three planes), ``[`` comes back. A key image
flagged with a note is stored as a KOS and shows its badge after the study is reopened.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ReadingData, logged_in_page
from tests.browser.test_reading import wait_for
from tests.server.people import VALID_NPIS, Person, active_practice, stow
from tests.synth import make_ct, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("reading-app")]


@dataclass
class Priors:
    reader: Person
    current_slices: int
    prior_slices: int


@pytest.fixture(scope="module")
def priors(reading: ReadingData) -> Priors:
    """A second practice on the reading archive with a chest CT and its prior."""
    reader = active_practice(reading.archive, "hanging@clinic.example", npi=VALID_NPIS[2],
                             practice="Hanging clinic")
    patient = make_patient(21)
    current = make_ct(n=24, seed=31, patient=patient, study_uid="2.25.4100001",
                      study_date="20260310", accession="ACC-NOW", study_description="CT CHEST")
    prior = make_ct(n=12, seed=32, patient=patient, study_uid="2.25.4100002",
                    study_date="20250310", accession="ACC-THEN", study_description="CT CHEST",
                    slice_thickness=5.0)
    for batch in (current, prior):
        r = stow(reading.archive, reader.headers, batch)
        assert r.status_code == 200, r.text
    return Priors(reader, len(current), len(prior))


@pytest.fixture(scope="module")
def hpage(chromium: Any, reading: ReadingData, priors: Priors) -> Iterator[Any]:
    """A page of its own, logged in as the second practice's reader."""
    with logged_in_page(chromium, reading.archive.url, priors.reader.email, width=1500) as page:
        yield page


def viewports(page: Any) -> Any:
    return page.locator(".wb-viewport")


def data(page: Any, k: int, name: str) -> str:
    return str(viewports(page).nth(k).get_attribute(f"data-{name}") or "")


def open_current(page: Any, reading: ReadingData, priors: Priors) -> None:
    """Load the app afresh, open the current CT and wait for both viewports drawn."""
    page.goto(reading.archive.url + "/")
    page.locator(".wb-account").wait_for(timeout=60_000)
    page.locator(".wb-row", has_text="ACC-NOW").click(timeout=90_000)
    wait_for(lambda: viewports(page).count() == 2 and data(page, 0, "count") ==
             str(priors.current_slices) and data(page, 1, "count") == str(priors.prior_slices),
             timeout=120, what="current and prior side by side")
    wait_for(lambda: data(page, 0, "drawn") == "0" and data(page, 1, "drawn") == "0",
             timeout=120, what="both first images drawn")


def location(index: int, count: int, spacing: float) -> float:
    """Slice position along z of the synthetic stacks (centred, stepping down)."""
    return (count - 1) * spacing / 2 - index * spacing


def test_ct_with_prior_hangs_synchronised_and_switches_stages(
        hpage: Any, reading: ReadingData, priors: Priors, artifacts: Path) -> None:
    page = hpage
    open_current(page, reading, priors)
    assert "CT chest with prior" in page.locator(".wb-stage-bar").inner_text()
    assert data(page, 0, "sync") == data(page, 1, "sync") == "scroll,window,zoom"
    wait_for(lambda: data(page, 0, "wl") == data(page, 1, "wl") == "W 1500 L -600",
             what="the protocol's lung window on both")

    # scrolling the current moves the prior to the same position: 5 mm slices, not index
    box = viewports(page).nth(0).bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*centre)
    for _ in range(10):
        page.mouse.wheel(0, 100)
    wait_for(lambda: data(page, 0, "drawn") == "10", what="ten slices scrolled")
    here = location(10, priors.current_slices, 2.5)
    expected = min(range(priors.prior_slices),
                   key=lambda k: abs(location(k, priors.prior_slices, 5.0) - here))
    assert expected == 5
    wait_for(lambda: data(page, 1, "index") == str(expected), timeout=30,
             what="the prior at the same patient position")
    page.screenshot(path=artifacts / "hanging-1-scrolled.png")

    # dragging window/level on the current windows the prior too
    page.mouse.move(*centre)
    page.mouse.down()
    page.mouse.move(centre[0] - 120, centre[1] + 50, steps=6)
    page.mouse.up()
    wait_for(lambda: data(page, 0, "wl") not in ("", "W 1500 L -600"), what="window drag")
    wait_for(lambda: data(page, 1, "wl") == data(page, 0, "wl"), timeout=30,
             what="the prior windowed the same")
    width, level = (float(v) for v in data(page, 1, "wl").split()[1::2])
    assert width < 1500 and level > -600

    # "]" shows the next stage: three planes of the current CT; "[" comes back
    viewports(page).nth(0).focus()
    page.keyboard.press("]")
    wait_for(lambda: viewports(page).count() == 3, timeout=90, what="the second stage")
    wait_for(lambda: [data(page, k, "orientation") for k in range(3)] ==
             ["axial", "coronal", "sagittal"], timeout=60, what="three planes")
    assert "stage 2/2" in page.locator(".wb-stage-bar").inner_text()
    page.screenshot(path=artifacts / "hanging-2-stage-two.png")
    page.locator(".wb-stage-bar button[aria-label='previous stage']").focus()
    page.keyboard.press("[")
    wait_for(lambda: viewports(page).count() == 2 and data(page, 1, "count") ==
             str(priors.prior_slices), timeout=90, what="the first stage again")
    assert page.errors == [], "\n".join(page.errors)


def test_key_image_flagged_shows_its_badge_after_reopening(
        hpage: Any, reading: ReadingData, priors: Priors, artifacts: Path) -> None:
    page = hpage
    open_current(page, reading, priors)
    box = viewports(page).nth(0).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(3):
        page.mouse.wheel(0, 100)
    wait_for(lambda: data(page, 0, "drawn") == "3", what="three slices scrolled")
    assert data(page, 0, "key") == "0"
    page.get_by_placeholder("key image note").fill("nodule, right upper lobe")
    page.locator(".wb-flag-key button").click()
    wait_for(lambda: data(page, 0, "key") == "1", timeout=90, what="the key badge")
    assert data(page, 1, "key") == "0"

    open_current(page, reading, priors)
    assert data(page, 0, "key") == "0"               # image 1 is not key
    box = viewports(page).nth(0).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(3):
        page.mouse.wheel(0, 100)
    wait_for(lambda: data(page, 0, "drawn") == "3", what="back to the key image")
    wait_for(lambda: data(page, 0, "key") == "1", timeout=30, what="the badge after reopening")
    assert viewports(page).nth(0).locator(".wb-key-badge").is_visible()
    page.locator(".wb-key-filter button").click()
    card = page.locator(".wb-key-card")
    wait_for(lambda: card.count() == 1, timeout=60, what="the key image listed")
    assert "nodule, right upper lobe" in card.first.inner_text()
    page.screenshot(path=artifacts / "hanging-3-key-image.png")
    assert page.errors == [], "\n".join(page.errors)
