"""Nothing acknowledged is lost and nothing half-written stays, even after kill -9."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.synth import make_ct, to_bytes


def _post(archive: RunningArchive, data: list[bytes]) -> httpx.Response:
    boundary = "dur-boundary"
    body = b"".join(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n"
                    + d + b"\r\n" for d in data) + b"--" + boundary.encode() + b"--\r\n"
    with archive.http() as http:
        return http.post("/dicom-web/studies", content=body, headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})


def test_acknowledged_instances_survive_kill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_archive(data_dir)
    series = make_ct(n=3, seed=201, rows=32, columns=32)
    try:
        assert _post(first, [to_bytes(ds) for ds in series]).status_code == 200
        # a second request is cut off half way through its body, then the process dies
        more = make_ct(n=2, seed=202, rows=256, columns=256)
        url = urlparse(first.url)
        body = b"--cut\r\nContent-Type: application/dicom\r\n\r\n" + to_bytes(more[0])
        with socket.create_connection((url.hostname, url.port)) as sock:
            head = (
                "POST /dicom-web/studies HTTP/1.1\r\n"
                f"Host: {url.hostname}\r\nAuthorization: Bearer {first.token}\r\n"
                'Content-Type: multipart/related; type="application/dicom"; boundary=cut\r\n'
                f"Content-Length: {len(body) * 2}\r\n\r\n"
            )
            sock.sendall(head.encode() + body)
            time.sleep(0.5)  # let the server write what it received
            assert len(list(data_dir.rglob("*.dcm"))) == 4  # 3 stored + 1 half-written
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(timeout=10)
    finally:
        if first.process.poll() is None:
            first.process.kill()
    second = start_archive(data_dir)
    try:
        ds = series[1]
        with second.http() as http:
            r = http.get(
                f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
                f"/instances/{ds.SOPInstanceUID}",
                headers={"Accept": 'multipart/related; type="application/dicom"; '
                                   "transfer-syntax=*"})
            assert r.status_code == 200
            assert to_bytes(ds) in r.content
            gone = http.get("/dicom-web/studies",
                            params={"StudyInstanceUID": more[0].StudyInstanceUID}).json()
            assert gone == []
        # the half-received instance's blob was swept at the restart: only the three
        # acknowledged instances have files
        assert len(list(data_dir.rglob("*.dcm"))) == 3
    finally:
        stop_archive(second)
