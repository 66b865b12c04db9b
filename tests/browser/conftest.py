"""Browser tests: the archive with the reading app, a practice with studies, and Chromium.

One archive and one logged-in page serve the whole module (starting Chromium and the
archive dominates the cost). Screenshots go to ``$WORKBENCH_ARTIFACTS`` (default: a
temporary folder, printed in the test report).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, ROOT, RunningArchive, free_port, stop_archive
from tests.server.people import PASSWORD, Person, active_practice, stow
from tests.synth import make_ct, make_ecg, make_patient, make_us, make_xa
from tests.workbench.viewer.documents import make_pdf

XSS_NAME = "<script>alert(1)</script>"


@dataclass
class ReadingData:
    """What the tests stored: the reader and the UIDs to look for."""

    archive: RunningArchive
    reader: Person
    study: str
    ct_series: str
    us_series: str
    ecg_series: str
    pdf_series: str
    xss_study: str
    ct_slices: int
    us_frames: int


def start_reading_archive(data_dir: Path, prefix: str = "", log_name: str = "reading-server.log",
                          **env: str) -> RunningArchive:
    """The archive with the reading app (``tests.browser.app_factory``) on a free port.

    `prefix`: the path it is served at (``JUPYTERHUB_SERVICE_PREFIX``, as the Hub's proxy
    gives it; no Hub API is configured). `env` is added to the server's environment.
    """
    port = free_port()
    environ = dict(os.environ, WORKBENCH_DATA_DIR=str(data_dir),
                   WORKBENCH_ADMIN_TOKEN=ADMIN_TOKEN, **env)
    for name in ("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_CLIENT_ID",
                 "JUPYTERHUB_SERVICE_PREFIX"):
        environ.pop(name, None)
    if prefix:
        environ["JUPYTERHUB_SERVICE_PREFIX"] = prefix + "/"
    log = open(data_dir.parent / log_name, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "tests.browser.app_factory:create",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=environ, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"archive exited with {process.returncode}; see {log.name}")
        try:
            if httpx.get(f"{url}{prefix}/healthz", timeout=1).status_code == 200:
                return RunningArchive(url, ADMIN_TOKEN, data_dir, process)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"archive did not start within 120 s; see {log.name}")


@pytest.fixture(scope="session")
def reading(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadingData]:
    """The archive with the reading app, a reader, and one study of every kind."""
    archive = start_reading_archive(tmp_path_factory.mktemp("reading") / "data")
    try:
        reader = active_practice(archive, "reader@clinic.example")
        patient = make_patient(7)
        study: dict[str, Any] = {"study_uid": "2.25.4000001", "study_date": "20260310",
                                 "accession": "ACC-VIEW", "patient": patient,
                                 "study_description": "CHEST CT AND ECHO"}
        ct = make_ct(n=24, rows=128, columns=128, seed=4, series_number=1, **study)
        us = make_us(n_frames=30, rows=96, columns=128, seed=4, series_number=2, **study)
        xa = make_xa(n_frames=8, seed=4, series_number=3, **study)
        ecg = make_ecg(seed=4, seconds=10.0, series_number=4, **study)
        pdf = make_pdf(ct[0], series_number=5)
        xss = make_ct(n=2, seed=5, patient=make_patient(8), study_uid="2.25.4000002",
                      accession="ACC-XSS")
        for ds in xss:
            ds.PatientName = XSS_NAME
        for batch in (ct, [us, xa, ecg, pdf], xss):
            r = stow(archive, reader.headers, batch)
            assert r.status_code == 200, r.text
        yield ReadingData(archive, reader, study["study_uid"], str(ct[0].SeriesInstanceUID),
                          str(us.SeriesInstanceUID), str(ecg.SeriesInstanceUID),
                          str(pdf.SeriesInstanceUID), "2.25.4000002", len(ct),
                          int(us.NumberOfFrames))
    finally:
        stop_archive(archive)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go."""
    folder = os.environ.get("WORKBENCH_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def page(chromium: Any, reading: ReadingData) -> Iterator[Any]:
    """One page, logged in through the app's own log-in form."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    page.goto(reading.archive.url + "/")
    page.locator(".wb-login input[name=email]").fill(reading.reader.email)
    page.locator(".wb-login input[name=password]").fill(PASSWORD)
    page.locator(".wb-login button").click()
    page.locator(".wb-account").wait_for(timeout=30_000)
    page.errors = errors
    yield page
    context.close()


@contextmanager
def logged_in_page(chromium: Any, url: str, email: str, *, width: int = 1400,
                   height: int = 900) -> Iterator[Any]:
    """A page in a browser context of its own, logged in as ``email`` through the app's
    log-in form at ``url``; ``page.errors`` collects the page's uncaught errors."""
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error) + "\n" + str(error.stack)))
    page.goto(url + "/")
    page.locator(".wb-login input[name=email]").fill(email)
    page.locator(".wb-login input[name=password]").fill(PASSWORD)
    page.locator(".wb-login button").click()
    page.locator(".wb-account").wait_for(timeout=60_000)
    page.errors = errors
    try:
        yield page
    finally:
        context.close()
