"""What people see of accounts and uploads, in real headless Chromium (Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import files
from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.people import PASSWORD, link_secret, mail_to, stow
from tests.synth import make_patient, make_study

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(chromium: object) -> object:
    """The session's one Chromium (tests/browser/conftest.py): a second Playwright in the
    same process would clash with it."""
    return chromium


def invited_login(browser: object, site: RunningArchive, address: str) -> object:
    """A new page where an invited member sets a password from the e-mailed link and
    logs in, as a person would."""
    secret = link_secret(mail_to(site.data_dir, address)[-1])
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{site.url}/login?set-password={secret}")
    page.fill("#new-password", PASSWORD)
    page.click("#set-password button")
    page.wait_for_selector("text=Password set")
    page.fill("#email", address)
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#state")
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArchive]:
    running = start_archive(tmp_path_factory.mktemp("pages") / "data")
    yield running
    stop_archive(running)


def test_sign_up_page_keeps_the_card_number_in_the_browser(browser: object,
                                                           site: RunningArchive) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    page.goto(f"{site.url}/signup")
    page.fill("#practice_name", "Lakeside Imaging")
    page.fill("#name", "Dana Reader")
    page.fill("#email", "dana@lakeside.example")
    page.fill("#password", PASSWORD)
    page.fill("#npi", "1234567890")  # a typo: the check digit should be 3
    page.fill("#card", "4242 4242 4242 4242")
    page.fill("#exp_month", "11")
    page.fill("#exp_year", "2031")
    page.click("button[type=submit]")
    page.wait_for_selector("#reasons li")
    reasons = page.inner_text("#reasons")
    assert "check digit" in reasons and "not confirmed" in reasons
    assert page.inner_text("#result h2") == "Account pending"
    assert all("4242424242424242" not in body and "4242 4242" not in body for body in posted)
    assert any("tok_test_visa_4242_1131" in body for body in posted)
    page.close()


def test_log_in_page_shows_the_account_state(browser: object, site: RunningArchive) -> None:
    httpx.post(f"{site.url}/api/signup", json={
        "practice_name": "Hillside", "name": "Sam", "email": "sam@hillside.example",
        "password": PASSWORD, "npi": "1245319599",
        "payment_token": "tok_test_visa_0002_1231"})
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{site.url}/login")
    page.fill("#email", "sam@hillside.example")
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#state")
    assert page.inner_text("#state") == "Hillside: pending"
    assert "declined" in page.inner_text("#result")
    page.fill("#password", "wrong password")
    page.click("#login button[type=submit]")
    page.wait_for_selector("#result.error")
    assert "wrong e-mail address or password" in page.inner_text("#result")
    page.close()


def test_media_upload_page(browser: object, site: RunningArchive, tmp_path: Path) -> None:
    study = make_study(("CT",), seed=621, patient=make_patient(2, seed=62))
    assert stow(site, site.headers, study).status_code == 200
    r = httpx.post(f"{site.url}/api/members", headers=site.headers, json={
        "email": "tech@local.example", "name": "Tech", "roles": ["technologist"]})
    assert r.status_code == 201
    page = invited_login(browser, site, "tech@local.example")
    referral, photo, fake = tmp_path / "referral.pdf", tmp_path / "photo.jpg", tmp_path / "x.pdf"
    referral.write_bytes(files.pdf("Referral"))
    photo.write_bytes(files.jpeg(5))
    fake.write_bytes(files.disguised_html())
    page.goto(f"{site.url}/media-upload")
    page.wait_for_selector(f"#study option[value='{study[0].StudyInstanceUID}']",
                           state="attached")
    page.select_option("#study", study[0].StudyInstanceUID)
    assert page.input_value("#patient") == study[0].PatientID
    page.select_option("#type", "other")
    page.set_input_files("#picker", [str(referral), str(photo), str(fake)])
    for name in ("referral.pdf", "photo.jpg", "x.pdf"):
        page.wait_for_selector(f"tr[data-file='{name}'][data-state]")
    assert page.get_attribute("tr[data-file='referral.pdf']", "data-state") == "stored"
    assert page.get_attribute("tr[data-file='photo.jpg']", "data-state") == "stored"
    assert page.get_attribute("tr[data-file='x.pdf']", "data-state") == "failed"
    assert "HTML" in page.inner_text("tr[data-file='x.pdf']")
    listed = httpx.get(f"{site.url}/api/media", headers=site.headers,
                       params={"study_uid": study[0].StudyInstanceUID}).json()
    assert {m["filename"] for m in listed} == {"referral.pdf", "photo.jpg"}
    assert all(m["uploaded_by"] == "tech@local.example" for m in listed)
    page.close()


def test_billings_page_runs_a_notebook(browser: object, site: RunningArchive) -> None:
    r = httpx.post(f"{site.url}/api/members", headers=site.headers, json={
        "email": "office@local.example", "name": "Office", "roles": ["administrator"]})
    assert r.status_code == 201
    page = invited_login(browser, site, "office@local.example")
    page.goto(f"{site.url}/billing-reports")
    page.fill("#horizon", "60")
    page.click("#run-retention")
    page.wait_for_selector("tr[data-status='done'], tr[data-status='failed']", timeout=180_000)
    assert page.get_attribute("tr[data-run]", "data-status") == "done"
    links = page.locator("tr[data-run] a")
    names = [links.nth(i).inner_text() for i in range(links.count())]
    assert any(n.endswith(".pdf") for n in names) and any(n.endswith(".html") for n in names)
    pdf = next(n for n in names if n.endswith(".pdf"))
    href = page.get_attribute(f"tr[data-run] a:text('{pdf}')", "href")
    body = page.evaluate("async (url) => { const r = await fetch(url); "
                         "return [r.status, (await r.text()).slice(0, 5)]; }", href)
    assert body == [200, "%PDF-"]
    page.close()
