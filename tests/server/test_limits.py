"""Absurd sizes and huge headers get a clear error and leave nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.synth import make_ct, to_bytes

CTYPE = 'multipart/related; type="application/dicom"; boundary=lim'


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArchive]:
    running = start_archive(
        tmp_path_factory.mktemp("limits") / "data",
        WORKBENCH_MAX_HEADER_BYTES="4096",
        WORKBENCH_MAX_INSTANCE_BYTES="300000",
        WORKBENCH_MAX_REQUEST_BYTES="1000000",
    )
    yield running
    stop_archive(running)


def _body(parts: list[bytes]) -> bytes:
    return b"".join(b"--lim\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n"
                    for p in parts) + b"--lim--\r\n"


def _no_leftovers(data_dir: Path) -> None:
    assert [p for p in data_dir.rglob("*") if p.suffix in (".tmp", ".part")] == []



def test_huge_header_is_rejected_with_its_size(small_archive: RunningArchive) -> None:
    ds = make_ct(n=1, seed=401, rows=16, columns=16)[0]
    ds.ImageComments = "x" * 9000
    with small_archive.http() as http:
        r = http.post("/dicom-web/studies", content=_body([to_bytes(ds)]),
                      headers={"Content-Type": CTYPE})
    assert r.status_code == 409
    reason = r.json()["00081198"]["Value"][0]["00000902"]["Value"][0]
    assert "over the limit of 4096 bytes" in reason
    _no_leftovers(small_archive.data_dir)


def test_instance_over_the_limit_is_413(small_archive: RunningArchive) -> None:
    big = make_ct(n=1, seed=402, rows=512, columns=512)[0]  # ~525 KB > 300 KB
    with small_archive.http() as http:
        r = http.post("/dicom-web/studies", content=_body([to_bytes(big)]),
                      headers={"Content-Type": CTYPE})
        assert r.status_code == 413
        assert "300000" in r.json()["detail"]
        found = http.get("/dicom-web/studies", params={"StudyInstanceUID": big.StudyInstanceUID})
        assert found.json() == []
    _no_leftovers(small_archive.data_dir)


def test_request_over_the_limit_is_413(small_archive: RunningArchive) -> None:
    parts = [to_bytes(ds) for ds in make_ct(n=8, seed=403, rows=256, columns=256)]  # ~1.05 MB
    with small_archive.http() as http:
        r = http.post("/dicom-web/studies", content=_body(parts), headers={"Content-Type": CTYPE})
        assert r.status_code == 413
        assert "1000000" in r.json()["detail"]


def test_chunked_request_over_the_limit(small_archive: RunningArchive) -> None:
    parts = [to_bytes(ds) for ds in make_ct(n=8, seed=405, rows=256, columns=256)]

    def stream() -> Iterator[bytes]:
        yield _body(parts)

    r = httpx.post(f"{small_archive.dicomweb}/studies", content=stream(),
                   headers={**small_archive.headers, "Content-Type": CTYPE}, timeout=60)
    assert r.status_code == 413
