"""Shared fixtures: the real archive on a free loopback port, and the shared corpus."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("WORKBENCH_CORPUS", ROOT.parent / "shared" / "dicom-corpus"))
ADMIN_TOKEN = "test-admin-token"
POSTGRES = os.environ.get("WORKBENCH_TEST_POSTGRES", "")
"""A PostgreSQL server URL (``postgresql+psycopg://user@host:port``): every archive the
tests start then gets a fresh database there instead of SQLite (``make test`` runs the
archive tests once more this way)."""
requires_sqlite = pytest.mark.skipif(
    bool(POSTGRES), reason="opens the SQLite index file directly")


def fresh_database_url(data_dir: Path) -> str | None:
    """A new, empty PostgreSQL database for one archive (None on SQLite)."""
    if not POSTGRES:
        return None
    import psycopg

    name = "wb_" + hashlib.sha1(str(data_dir).encode()).hexdigest()[:16]
    plain = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES}/{name}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningArchive:
    """A ``workbench`` archive process started for the tests."""

    url: str
    token: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=60)


START_TIMEOUT_S = 180.0
"""How long an archive may take to start: a few seconds here, minutes on a loaded machine."""


def start_archive(data_dir: Path, token: str = ADMIN_TOKEN, **env: str) -> RunningArchive:
    """Start ``uvicorn server.main:app_from_environment`` and wait until it answers."""
    port = free_port()
    environ = dict(os.environ, WORKBENCH_DATA_DIR=str(data_dir), WORKBENCH_ADMIN_TOKEN=token,
                   **env)
    database = None if "WORKBENCH_DATABASE_URL" in env else fresh_database_url(data_dir)
    if database:
        environ["WORKBENCH_DATABASE_URL"] = database
    log = open(data_dir.parent / f"{data_dir.name}-server.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "server.main:app_from_environment",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=environ, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"archive exited with {process.returncode}; see {log.name}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return RunningArchive(url, token, data_dir, process)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"archive did not start within {START_TIMEOUT_S:.0f} s")


def stop_archive(archive: RunningArchive) -> None:
    """Terminate the archive process and wait for it."""
    archive.process.terminate()
    try:
        archive.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        archive.process.kill()


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArchive]:
    """One archive shared by the session's integration tests (tests use their own UIDs)."""
    running = start_archive(tmp_path_factory.mktemp("archive") / "data")
    yield running
    stop_archive(running)


@pytest.fixture
def fresh_archive(tmp_path: Path) -> Iterator[RunningArchive]:
    """An archive of its own, for tests that need an empty index or kill the process."""
    running = start_archive(tmp_path / "data")
    yield running
    stop_archive(running)


CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM") or shutil.which("chromium") or ""


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (WebGL2 through SwiftShader).

    Defined once, here: two Playwright instances in one test process would clash (the
    second sees the first's event loop running).
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM:
        pytest.fail("no chromium executable: `make test` installs Debian's chromium "
                    "(or set WORKBENCH_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus folder; skips when it is absent."""
    if not (CORPUS / "MANIFEST.tsv").exists():
        pytest.skip(f"shared DICOM corpus not found at {CORPUS} (set WORKBENCH_CORPUS)")
    return CORPUS
