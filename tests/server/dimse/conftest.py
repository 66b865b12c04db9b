"""Fixtures for the DIMSE tests: the real archive with its listener, sources, SCUs, an SCP.

``workbench serve --dimse`` runs in a subprocess on free loopback ports (one HTTP worker,
the listener in its own process), exactly as users start it. Clients are dcmtk's command
line tools (run with ``TCP_NODELAY=1``, which dcmtk needs to switch Nagle off) and
pynetdicom SCUs; C-MOVE destinations are pynetdicom storage SCPs started in the test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.association import Association

from server.dimse.contexts import TRANSFER_SYNTAXES, Verification, set_nodelay
from tests.conftest import ADMIN_TOKEN, ROOT, RunningArchive, free_port

CALLED = "WORKBENCH"


@dataclass
class DriveArchive(RunningArchive):
    """An archive started with ``workbench serve --dimse``."""

    dimse_port: int = 0

    def add_source(self, ae_title: str, *, host: str = "", port: int | None = None,
                   can_retrieve: bool = False, headers: dict[str, str] | None = None,
                   team_id: int | None = None) -> dict[str, Any]:
        """Register a source through ``/api/sources`` (as the administrator by default)."""
        body: dict[str, Any] = {"name": ae_title.lower(), "ae_title": ae_title, "host": host,
                                "port": port, "can_retrieve": can_retrieve, "team_id": team_id}
        r = httpx.post(f"{self.url}/api/sources", json=body,
                       headers=headers or self.headers, timeout=30)
        assert r.status_code == 201, r.text
        source: dict[str, Any] = r.json()
        return source


def audit_events(drive: RunningArchive, timeout: float = 10, **params: str
                 ) -> list[dict[str, Any]]:
    """Audit events matching ``params`` (the listener writes them within milliseconds)."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{drive.url}/api/audit", headers=drive.headers, params=params)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path,
                  timeout: float = 90) -> None:
    """Wait until something accepts TCP connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s; see {log}")


def start_drive_archive(data_dir: Path, *, port: int | None = None, dimse: bool = True,
                        **env: str) -> DriveArchive:
    """Start ``workbench serve [--dimse PORT]`` and wait until HTTP (and DIMSE) answer."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    dimse_port = free_port() if dimse else 0
    environ = dict(os.environ, WORKBENCH_ADMIN_TOKEN=ADMIN_TOKEN, WORKBENCH_WORKERS="1",
                   **env)
    log = data_dir.parent / f"{data_dir.name}-drive.log"
    if dimse:
        argv = [sys.executable, "-m", "workbench.cli", "serve", "--host", "127.0.0.1",
                "--port", str(port), "--data-dir", str(data_dir), "--dimse", str(dimse_port)]
    else:  # the HTTP archive alone starts faster straight from uvicorn
        environ["WORKBENCH_DATA_DIR"] = str(data_dir)
        argv = [sys.executable, "-m", "uvicorn", "--factory",
                "server.main:app_from_environment", "--host", "127.0.0.1", "--port",
                str(port), "--log-level", "warning"]
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, env=environ, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=ROOT)
    archive = DriveArchive(f"http://127.0.0.1:{port}", ADMIN_TOKEN, data_dir, process,
                           dimse_port=dimse_port)
    try:
        wait_for_port(port, process, log)
        if dimse:
            wait_for_port(dimse_port, process, log)
    except BaseException:
        stop_process(process)
        raise
    return archive


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="package")
def drive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriveArchive]:
    """One archive with its DIMSE listener for the package (tests use their own UIDs and
    AE titles)."""
    running = start_drive_archive(tmp_path_factory.mktemp("drive") / "data")
    yield running
    stop_process(running.process)


def dcmtk(tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a dcmtk tool (``TCP_NODELAY=1``: dcmtk keeps Nagle's algorithm on otherwise)."""
    if shutil.which(tool) is None:
        pytest.skip(f"dcmtk's {tool} is not installed (Debian package dcmtk)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TCP_NODELAY="1"))


def scu(port: int, calling: str, contexts: list[Any], *, called: str = CALLED,
        **kwargs: Any) -> Association:
    """A pynetdicom association from ``calling`` to the listener."""
    ae = AE(ae_title=calling)
    handlers = [(evt.EVT_CONN_OPEN, _nodelay), *kwargs.pop("evt_handlers", [])]
    assoc = ae.associate("127.0.0.1", port, contexts=contexts, ae_title=called,
                         evt_handlers=handlers, **kwargs)
    return assoc


def _nodelay(event: evt.Event) -> None:
    set_nodelay(event.assoc.dul.socket.socket)


@dataclass
class StorageSCP:
    """A pynetdicom storage SCP run by a test (a C-MOVE destination)."""

    ae_title: str
    port: int
    received: list[Dataset] = field(default_factory=list)
    calling: list[str] = field(default_factory=list)
    server: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, transfer_syntaxes: list[str] | None = None) -> StorageSCP:
        ae = AE(ae_title=self.ae_title)
        ae.add_supported_context(Verification)
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax,
                                     transfer_syntaxes or list(TRANSFER_SYNTAXES))

        def on_store(event: evt.Event) -> int:
            ds = event.dataset
            ds.file_meta = event.file_meta
            with self.lock:
                self.received.append(ds)
                self.calling.append(event.assoc.requestor.ae_title.strip())
            return 0x0000

        self.server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=[
            (evt.EVT_C_STORE, on_store), (evt.EVT_CONN_OPEN, _nodelay)])
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


@pytest.fixture
def storage_scp() -> Iterator[StorageSCP]:
    """A storage SCP on a free port accepting every storage class and transfer syntax."""
    scp = StorageSCP("MOVEDEST", free_port()).start()
    yield scp
    scp.stop()
