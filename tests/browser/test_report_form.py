"""The report form of the reading app in headless Chromium (marker ``browser``).

A reading physician opens a study, starts a myocardial perfusion report, fills typed
fields and the 17-segment grid (SSS/SRS/SDS shown as the scores change), saves, signs
after the confirmation with the password, sees the signature verified, signs an
addendum, and downloads the PDF. Screenshots go to the ``artifacts`` folder.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pypdf
import pytest

from tests.browser.conftest import ReadingData
from tests.server.people import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("reading-app")]
SLOW = 90_000  # ms: a loaded 2-core machine signs, renders the PDF and stores SR + PDF


def text_of(page: Any, css: str) -> str:
    """The text of a Str pane (a ``<pre>`` in the shadow root of the classed element)."""
    found = page.locator(f"{css} pre")
    return str(found.first.text_content() or "").strip() if found.count() else ""


def wait_text(page: Any, css: str, expected: str, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = text_of(page, css)
        if expected in shown:
            return shown
        time.sleep(0.1)
    message = text_of(page, ".wb-report-message")
    raise AssertionError(f"{css} shows {text_of(page, css)!r}, not {expected!r} "
                         f"(form message: {message!r})")


def sign(page: Any) -> None:
    page.get_by_role("button", name="Sign\u2026").click()
    confirm = page.locator(".wb-report-confirm")
    confirm.wait_for(state="visible", timeout=SLOW)
    page.get_by_label("Password (to sign)").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and sign").click()


def test_fill_sign_addendum_and_pdf(page: Any, reading: ReadingData, artifacts: Path) -> None:
    try:
        walk_through(page, reading, artifacts)
    finally:  # the last state, also when a step failed
        page.screenshot(path=artifacts / "8-report-signed.png", full_page=True)


def walk_through(page: Any, reading: ReadingData, artifacts: Path) -> None:
    page.goto(reading.archive.url + "/")
    page.locator(".wb-account").wait_for(timeout=60_000)
    page.locator(".wb-row", has_text="ACC-VIEW").click(timeout=SLOW)
    page.locator(".wb-card", has_text="CT AXIAL").wait_for(timeout=SLOW)
    page.locator(".bk-tab", has_text="Report").click(timeout=SLOW)
    page.get_by_role("button", name="Start report").wait_for(timeout=SLOW)
    page.get_by_label("Template").select_option(label="Myocardial perfusion imaging report")
    page.get_by_role("button", name="Start report").click()
    wait_text(page, ".wb-report-status", "draft")
    assert text_of(page, ".wb-report-signature") == "not signed"

    page.get_by_label("Indication *").fill("Chest pain on exertion")
    page.get_by_label("Protocol *").select_option(label="One-day rest/stress")
    page.get_by_label("Stress *", exact=True).select_option(label="Regadenoson")
    page.get_by_label("Radiopharmaceutical *").select_option(label="Tc-99m tetrofosmin")
    page.locator(".wb-field-lvef input").fill("58")
    page.locator(".wb-field-lvef input").press("Tab")
    for css, score in (("stress-1", "3"), ("stress-7", "2"), ("rest-1", "1")):
        page.locator(f".wb-score-{css} select").select_option(score)
    summary = wait_text(page, ".wb-score-summary", "SDS 4")        # computed as scored
    assert summary.startswith("SSS 5 (7.4%)") and "SRS 1" in summary
    page.get_by_label("Perfusion *", exact=True).select_option(label="Abnormal")
    page.get_by_label("Impression *").fill("Small reversible anterior defect.")
    page.get_by_role("button", name="Save draft").click()
    wait_text(page, ".wb-report-message", "Saved.")
    page.screenshot(path=artifacts / "7-report-draft.png")

    sign(page)
    wait_text(page, ".wb-report-signature", "signed, valid")
    assert text_of(page, ".wb-report-status") == "final"
    signed = text_of(page, ".wb-report-text")
    assert "SSS 5" in signed and "Small reversible anterior defect." in signed
    assert "NPI" in signed

    page.get_by_label("Addendum text").fill("Compared with the 2024 study: new.")
    page.get_by_role("button", name="Start addendum").click()
    page.get_by_label("Addendum *").wait_for(timeout=SLOW)
    sign(page)
    wait_text(page, ".wb-report-status", "appended")
    wait_text(page, ".wb-report-signature", "signed, valid")
    assert "Compared with the 2024 study: new." in text_of(page, ".wb-report-text")

    page.get_by_role("button", name="Prepare PDF").click()
    download_button = page.get_by_role("button", name="Download report-")
    download_button.wait_for(timeout=SLOW)
    with page.expect_download(timeout=SLOW) as download:
        download_button.click()
    assert download.value.suggested_filename.startswith("report-")
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
                    .split())
    assert "SSS 5" in text and "Compared with the 2024 study: new." in text
    assert page.errors == []
