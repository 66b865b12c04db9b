"""`workbench serve` with several processes: concurrent stores lose and duplicate nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port
from tests.synth import make_ct, to_bytes


def _body(parts: list[bytes]) -> bytes:
    return b"".join(b"--w\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n"
                    for p in parts) + b"--w--\r\n"


def test_two_processes_store_concurrently(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, WORKBENCH_ADMIN_TOKEN="workers-token")
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), "--data-dir",
         str(tmp_path / "data"), "--workers", "2"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Bearer workers-token"}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        series = make_ct(n=24, seed=501, rows=32, columns=32)
        data = [to_bytes(ds) for ds in series]
        errors: list[str] = []

        def client(offset: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
                # every instance is sent by two of the four clients
                for i in range(offset, offset + 12, 3):
                    r = http.post("/dicom-web/studies", content=_body(data[i:i + 3]), headers={
                        "Content-Type": 'multipart/related; type="application/dicom"; '
                                        "boundary=w"})
                    if r.status_code != 200:
                        errors.append(r.text)

        threads = [threading.Thread(target=client, args=(o,)) for o in (0, 0, 12, 12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            study = http.get("/dicom-web/studies", params={
                "StudyInstanceUID": series[0].StudyInstanceUID}).json()
            assert study[0]["00201208"]["Value"] == [24]
            assert study[0]["00201206"]["Value"] == [1]
            found = http.get(f"/dicom-web/studies/{series[0].StudyInstanceUID}/instances").json()
            assert sorted(f["00080018"]["Value"][0] for f in found) == sorted(
                ds.SOPInstanceUID for ds in series)
        assert len(list((tmp_path / "data").rglob("*.dcm"))) == 24
    finally:
        proc.terminate()
        proc.wait(timeout=30)
