"""Nothing acknowledged is lost and nothing half-written stays, even after kill -9."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from server.services.ingest import MEMORY_PART_BYTES
from tests.conftest import RunningArchive, requires_sqlite, start_archive, stop_archive
from tests.synth import make_ct, to_bytes


def _post(archive: RunningArchive, data: list[bytes]) -> httpx.Response:
    boundary = "dur-boundary"
    body = b"".join(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n"
                    + d + b"\r\n" for d in data) + b"--" + boundary.encode() + b"--\r\n"
    with archive.http() as http:
        return http.post("/dicom-web/studies", content=body, headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})


@pytest.mark.parametrize("size", [256, 1600], ids=["held-in-memory", "streamed-to-disk"])
def test_acknowledged_instances_survive_kill(tmp_path: Path, size: int) -> None:
    """A part up to MEMORY_PART_BYTES is held until complete; a larger one streams to a
    ``.part`` file. Either way the cut-off instance leaves nothing behind."""
    data_dir = tmp_path / "data"
    first = start_archive(data_dir)
    series = make_ct(n=3, seed=201, rows=32, columns=32)
    try:
        assert _post(first, [to_bytes(ds) for ds in series]).status_code == 200
        # a second request is cut off half way through its body, then the process dies
        more = make_ct(n=2, seed=202, rows=size, columns=size)
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
            assert len(list(data_dir.rglob("*.dcm"))) == 3  # the acknowledged ones
            streamed = len(to_bytes(more[0])) > MEMORY_PART_BYTES
            assert len(list(data_dir.rglob("*.dcm.part"))) == streamed  # still arriving
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
        # the half-received instance's blob was removed at the restart
        assert len(list(data_dir.rglob("*.dcm"))) == 3
        assert list(data_dir.rglob("*.part")) == []
    finally:
        stop_archive(second)


@requires_sqlite
def test_rows_lost_by_a_power_cut_come_back_from_their_blobs(tmp_path: Path) -> None:
    """The index commits without syncing its WAL; a power cut may roll a commit back.

    Simulated here by removing the rows of an acknowledged study behind the server's back:
    at the next start the unreferenced blobs are indexed again.
    """
    import sqlite3

    data_dir = tmp_path / "data"
    first = start_archive(data_dir)
    series = make_ct(n=2, seed=203, rows=32, columns=32)
    try:
        assert _post(first, [to_bytes(ds) for ds in series]).status_code == 200
    finally:
        stop_archive(first)
    study = series[0].StudyInstanceUID
    with sqlite3.connect(data_dir / "index.sqlite") as db:
        pk = db.execute("SELECT pk FROM studies WHERE study_uid = ?", (study,)).fetchone()[0]
        db.execute("DELETE FROM instances WHERE study_pk = ?", (pk,))
        db.execute("DELETE FROM series WHERE study_pk = ?", (pk,))
        db.execute("DELETE FROM studies WHERE pk = ?", (pk,))
    second = start_archive(data_dir)
    try:
        with second.http() as http:
            found = http.get("/dicom-web/studies", params={"StudyInstanceUID": study}).json()
            assert found[0]["00201208"]["Value"] == [2]
            ds = series[1]
            r = http.get(
                f"/dicom-web/studies/{study}/series/{ds.SeriesInstanceUID}"
                f"/instances/{ds.SOPInstanceUID}",
                headers={"Accept": 'multipart/related; type="application/dicom"; '
                                   "transfer-syntax=*"})
            assert to_bytes(ds) in r.content
    finally:
        stop_archive(second)
