"""Every file of the shared corpus and of pydicom's test files through the real archive.

Each readable file is stored, retrieved in its stored transfer syntax (identical bytes),
its metadata and first frame fetched; malformed files are rejected with a reason and
leave no trace. The archive overwrites duplicates here because several corpus files
share a SOP Instance UID across transfer syntaxes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pydicom.data
import pytest

from tests.conftest import RunningArchive, start_archive, stop_archive

BOUNDARY = "corpus-boundary"
RETRIEVE_ORIGINAL = 'multipart/related; type="application/dicom"; transfer-syntax=*'

# corpus files that must be refused, with a word the reason must contain
MUST_REJECT = {
    "dcm4che/3gb-bulk-data-truncated": "not a valid UID",
    "fo-dicom/GH177_D_CLUNIE_CT1_IVRLE_BigEndian_undefined_length.dcm": "unreadable",
    "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm": "truncated",
    "pydicom-data/bad_sequence.dcm": "not a valid UID",
    "fo-dicom/GH1339.dcm": "truncated",
    "dcm4che/DICOMDIR": "SOPClassUID",
    "fo-dicom/GH340.dcm": "Part 10",
}


@pytest.fixture(scope="module")
def overwriting_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArchive]:
    running = start_archive(tmp_path_factory.mktemp("corpus") / "data",
                            WORKBENCH_DUPLICATES="overwrite")
    yield running
    stop_archive(running)


def _store(http: httpx.Client, data: bytes) -> httpx.Response:
    body = (b"--" + BOUNDARY.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + data
            + b"\r\n--" + BOUNDARY.encode() + b"--\r\n")
    return http.post("/dicom-web/studies", content=body, headers={
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'})


def _check_file(http: httpx.Client, path: Path) -> tuple[bool, str]:
    """Store one file and check what comes back; return (stored, reason)."""
    data = path.read_bytes()
    response = _store(http, data)
    assert response.status_code in (200, 409), (path, response.status_code, response.text)
    body = response.json()
    if response.status_code == 409:
        failed = body["00081198"]["Value"][0]
        reason = failed["00000902"]["Value"][0]
        assert reason, path
        return False, reason
    url = body["00081199"]["Value"][0]["00081190"]["Value"][0]
    got = http.get(url, headers={"Accept": RETRIEVE_ORIGINAL})
    assert got.status_code == 200, (path, got.text)
    expected = data if data[128:132] == b"DICM" else b"\0" * 128 + b"DICM" + data
    assert expected in got.content, f"{path}: retrieved bytes differ from the stored ones"
    meta = http.get(f"{url}/metadata")
    assert meta.status_code == 200, (path, meta.text)
    instance = meta.json()[0]
    if "7FE00010" in instance:
        frame = http.get(f"{url}/frames/1", headers={
            "Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'})
        assert frame.status_code in (200, 406), (path, frame.status_code, frame.text)
        if frame.status_code != 200:
            assert frame.json()["detail"], path
        thumb = http.get(f"{url}/thumbnail")
        assert thumb.status_code in (200, 400, 404, 406), (path, thumb.status_code, thumb.text)
    return True, ""


def _corpus_files(corpus: Path) -> list[Path]:
    return [p for p in sorted(corpus.rglob("*"))
            if p.is_file() and p.name not in ("MANIFEST.tsv", "README.md")]


@pytest.mark.corpus
@pytest.mark.slow
def test_corpus_round_trip(overwriting_archive: RunningArchive, corpus: Path) -> None:
    rejected: dict[str, str] = {}
    stored = 0
    with overwriting_archive.http() as http:
        for path in _corpus_files(corpus):
            ok, reason = _check_file(http, path)
            if ok:
                stored += 1
            else:
                rejected[str(path.relative_to(corpus))] = reason
    for name, word in MUST_REJECT.items():
        assert name in rejected, f"{name} was stored but is malformed"
        assert word in rejected[name], (name, rejected[name])
    assert stored > 300
    leftovers = [p for p in overwriting_archive.data_dir.rglob("*")
                 if p.suffix in (".tmp", ".part")]
    assert leftovers == []


def test_pydicom_test_files_round_trip(overwriting_archive: RunningArchive) -> None:
    files = [Path(p) for p in pydicom.data.get_testdata_files() if Path(p).is_file()]
    stored = 0
    with overwriting_archive.http() as http:
        for path in files:
            ok, _reason = _check_file(http, path)
            stored += ok
    assert stored > 100
