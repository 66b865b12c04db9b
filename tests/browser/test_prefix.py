"""The reading app under a path prefix, as JupyterHub serves the archive (``browser``).

The archive runs with the settings the Hub gives its managed service
(``JUPYTERHUB_SERVICE_PREFIX=/services/archive/``; no OAuth client here, so the page's
own log-in form is used). In Chromium the reader opens ``/services/archive`` (redirected
to ``/services/archive/``), logs in, sees the worklist with its thumbnail, opens the CT
and sees it drawn, then logs out, and logs in again on the archive's plain log-in page
(``/services/archive/login``). Every request the page makes, its WebSocket included,
stays under the prefix: a root-relative URL (``/static``, ``/ws``, ``/dicom-web``,
``/api``) would leave it and, behind the Hub's proxy, reach the Hub instead. The reads
through the prefix are audited like any other (the audit trail names the path without
the prefix).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import start_reading_archive
from tests.browser.test_reading import wait_for
from tests.conftest import RunningArchive, stop_archive
from tests.server.people import PASSWORD, Person, active_practice, stow
from tests.synth import make_ct, make_patient

pytestmark = pytest.mark.browser

PREFIX = "/services/archive"
SLICES = 6
STUDY = "2.25.4100001"


@dataclass
class PrefixedArchive:
    """The archive under the prefix, its reader and the stored CT."""

    archive: RunningArchive
    reader: Person
    accession: str

    @property
    def base(self) -> str:
        return self.archive.url + PREFIX


@pytest.fixture(scope="module")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefixedArchive]:
    archive = start_reading_archive(tmp_path_factory.mktemp("prefix") / "data", PREFIX,
                                    log_name="prefix-server.log")
    try:
        reader = active_practice(archive, "prefix-reader@clinic.example")
        ct = make_ct(n=SLICES, rows=64, columns=64, seed=21, patient=make_patient(21),
                     study_uid=STUDY, accession="ACC-PREFIX")
        r = stow(archive, reader.headers, ct)
        assert r.status_code == 200, r.text
        yield PrefixedArchive(archive, reader, "ACC-PREFIX")
    finally:
        stop_archive(archive)


def test_reading_app_under_the_service_prefix(chromium: Any, prefixed: PrefixedArchive) -> None:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("websocket", lambda socket: requests.append(socket.url))
        page.goto(prefixed.base)   # the bare prefix is redirected to prefix/
        assert urlsplit(page.url).path == PREFIX + "/"
        page.locator(".wb-login input[name=email]").fill(prefixed.reader.email)
        page.locator(".wb-login input[name=password]").fill(PASSWORD)
        page.locator(".wb-login button").click()
        page.locator(".wb-account").wait_for(timeout=90_000)
        cookie = next(c for c in context.cookies() if c["name"] == "wb_session")
        assert cookie["path"] == PREFIX + "/"

        row = page.locator(".wb-table .wb-row", has_text=prefixed.accession)
        row.wait_for(timeout=90_000)
        wait_for(lambda: page.locator(".wb-table img.wb-thumb").evaluate_all(
            "imgs => imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)"),
            timeout=90, what="the worklist's thumbnail")
        row.click()
        page.locator(".wb-card").first.click(timeout=90_000)
        view = page.locator(".wb-viewport").first
        wait_for(lambda: view.get_attribute("data-count") == str(SLICES)
                 and view.get_attribute("data-drawn") == "0", timeout=90,
                 what="the first CT slice drawn")
        assert view.get_attribute("data-renderer") == "webgl2"

        page.locator(".wb-logout").click()
        page.locator(".wb-login").wait_for(timeout=90_000)
        assert not [c for c in context.cookies() if c["name"] == "wb_session"]

        page.goto(f"{prefixed.base}/login")   # the archive's plain log-in page
        page.locator("#email").fill(prefixed.reader.email)
        page.locator("#password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.locator("#state").wait_for(timeout=60_000)
    finally:
        context.close()
    assert errors == []
    origin = urlsplit(prefixed.archive.url).netloc
    ours = [url for url in requests if urlsplit(url).netloc == origin]
    assert any(urlsplit(url).path.startswith(PREFIX + "/dicom-web/") for url in ours)
    assert any(urlsplit(url).path == PREFIX + "/ws" for url in ours)
    outside = [url for url in ours if urlsplit(url).path != PREFIX   # the first visit
               and not urlsplit(url).path.startswith(PREFIX + "/")]
    assert outside == [], f"requests outside {PREFIX}/: {outside}"

    def audited() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = httpx.get(
            f"{prefixed.base}/api/audit", headers=prefixed.reader.headers, timeout=30,
            params={"actor": prefixed.reader.email, "study_uid": STUDY}).json()
        return [e for e in found if e["resource"].startswith(f"GET /dicom-web/studies/{STUDY}")]

    wait_for(audited, timeout=90, what="the prefixed reads in the audit trail")
