"""Blobs on S3-compatible object storage: a real S3 endpoint (moto's server) on loopback.

Three layers: the store itself in this process (staging, multipart uploads, ranged reads,
listing, eviction); the archive process on a bucket (STOW, QIDO, WADO instance, frames,
metadata, rendered, DELETE; a failed upload leaves no row; the start-up sweep indexes an
object whose row was lost); and every test of ``test_dicomweb.py`` again, imported below
with this module's ``archive`` fixture (an archive on a bucket) in place of the shared one.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from server.storage.s3 import S3BlobStore, S3Location, make_client
from tests import files
from tests.conftest import RunningArchive, free_port, start_archive, stop_archive
from tests.server.people import active_practice, stow
from tests.server.test_dicomweb import *  # noqa: F403  (the archive suite, on S3)
from tests.synth import make_ct, make_patient, make_study, make_xa, to_bytes

moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")

KEY_ID, SECRET = "testing", "testing-secret"
MULTIPART = 'multipart/related; type="application/dicom"'


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for this session."""
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _client(endpoint: str) -> Any:
    return make_client(endpoint_url=endpoint, region="us-east-1", access_key_id=KEY_ID,
                       secret_access_key=SECRET, addressing_style="path")


def _bucket(endpoint: str) -> str:
    name = f"wb-{uuid.uuid4().hex[:12]}"
    _client(endpoint).create_bucket(Bucket=name)
    return name


def _objects(endpoint: str, bucket: str, prefix: str = "") -> dict[str, int]:
    """Object key -> size of what the bucket holds under ``prefix``."""
    found: dict[str, int] = {}
    pages = _client(endpoint).get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix)
    for page in pages:
        found.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    return found


def _s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    return {"WORKBENCH_BLOB_URL": f"s3://{bucket}/site", "WORKBENCH_S3_ENDPOINT_URL": endpoint,
            "WORKBENCH_S3_REGION": "us-east-1", "WORKBENCH_S3_ACCESS_KEY_ID": KEY_ID,
            "WORKBENCH_S3_SECRET_ACCESS_KEY": SECRET, "WORKBENCH_S3_ADDRESSING_STYLE": "path"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
            ) -> Iterator[RunningArchive]:
    """An archive whose blobs are in a bucket (replaces the shared one in this module)."""
    bucket = _bucket(s3_endpoint)
    running = start_archive(tmp_path_factory.mktemp("s3-archive") / "data",
                            **_s3_env(s3_endpoint, bucket))
    running.bucket = bucket  # type: ignore[attr-defined]
    yield running
    stop_archive(running)


@pytest.fixture
def store(tmp_path: Path, s3_endpoint: str) -> Iterator[S3BlobStore]:
    """A store on a fresh bucket, with 5 MiB parts and a local cache under tmp_path."""
    s3 = S3BlobStore(_client(s3_endpoint), S3Location(_bucket(s3_endpoint), "p/"), "blobs",
                     tmp_path / "cache", part_bytes=5 << 20, keep_recent_s=0)
    yield s3
    s3.close()


# -- the store in this process ---------------------------------------------------------------
def _stage(store: S3BlobStore, data: bytes, key: str | None = None) -> str:
    """Write ``data`` as a staged (not yet uploaded) blob, the way ingest does."""
    key = key or store.new_key()
    fd = store.create(key)
    try:
        for i in range(0, len(data), 1 << 20):
            os.write(fd, data[i:i + (1 << 20)])
    finally:
        os.close(fd)
    store.complete(key)
    return key


def test_a_blob_is_in_the_bucket_only_after_sync(store: S3BlobStore) -> None:
    data = os.urandom(200_000)
    key = _stage(store, data)
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.object_key(key))
    assert listed.get("KeyCount", 0) == 0  # staged: no object yet, nothing to reference
    assert os.stat(store.path(key)).st_mode & stat.S_IWUSR  # writable: dirty
    store.sync([key])
    head = store.client.head_object(Bucket=store.bucket, Key=f"p/blobs/{key}")
    assert head["ContentLength"] == len(data)
    assert not os.stat(store.path(key)).st_mode & stat.S_IWUSR  # clean cached copy
    store.sync([key])  # clean: nothing to upload again
    store.delete(key)
    assert store.local_path(key) is None
    with pytest.raises(FileNotFoundError, match=key):
        store.size(key)


def test_large_blob_goes_up_in_parts_and_reads_back_by_range(store: S3BlobStore) -> None:
    data = os.urandom(11 << 20) + b"tail"
    key = _stage(store, data)
    store.sync([key])
    etag = store.client.head_object(Bucket=store.bucket, Key=store.object_key(key))["ETag"]
    assert etag.strip('"').endswith("-3")  # a multipart upload of three parts
    store.discard(store.path(key))  # no cached copy: reads go to the bucket
    assert store.local_path(key) is None
    assert store.size(key) == len(data)
    with store.open_reader(key) as blob:
        assert blob.pread(12, 7_000_000) == data[7_000_000:7_000_012]
        assert blob.pread(100, 7_000_012) == data[7_000_012:7_000_112]  # read-ahead block
        assert blob.size() == len(data)
        view = memoryview(bytearray(3 << 20))
        assert blob.readinto(view, 1 << 20) == len(view)
        assert bytes(view) == data[1 << 20:4 << 20]
        assert blob.pread(10, len(data) - 4) == b"tail"  # short at the end
        assert blob.pread(10, len(data)) == b""  # past the end
    assert store.local_path(key) is None  # ranged reads do not fill the cache
    assert store.read_range(key, 5, 5) == data[5:10]
    assert store.read(key) == data  # downloads into the cache
    assert store.local_path(key) is not None


def test_listing_for_the_sweep(store: S3BlobStore) -> None:
    old = store.new_key(datetime(2023, 5, 1, 7, tzinfo=UTC))
    new = store.new_key(datetime(2024, 3, 15, 10, tzinfo=UTC))
    for key in (old, new):
        store.sync([_stage(store, b"x" * 10, key)])
    staged = _stage(store, b"never uploaded")  # as if the process died before sync
    hour = staged.rsplit("/", 1)[0]
    assert store.hour_folders() == sorted({"2023/05/01/07", "2024/03/15/10", hour})
    assert store.hour_folders("2024/01/01/00") == sorted({"2024/03/15/10", hour})
    assert store.keys_in("2024/03/15/10") == [new]
    assert store.remove_partial(hour) == 1
    assert store.local_path(staged) is None
    assert store.keys_in(hour) == []


def test_eviction_keeps_dirty_and_recent_files(store: S3BlobStore) -> None:
    store.cache_bytes = 150_000
    clean = [_stage(store, os.urandom(100_000)) for _ in range(3)]
    store.sync(clean)
    dirty = _stage(store, os.urandom(100_000))
    os.utime(store.path(clean[0]), (1, 1))  # the least recently used
    assert store.evict() >= 100_000
    assert store.local_path(clean[0]) is None
    assert store.local_path(dirty) is not None  # not uploaded: never evicted
    left = sum(os.stat(p).st_size for k in clean if (p := store.local_path(k)) is not None)
    assert left <= 0.8 * store.cache_bytes
    assert store.read(clean[0])[:10] == store.read_range(clean[0], 0, 10)  # still in S3


def test_upload_to_a_missing_bucket_fails_with_its_name(tmp_path: Path, s3_endpoint: str
                                                        ) -> None:
    gone = S3BlobStore(_client(s3_endpoint), S3Location("no-such-bucket", ""), "blobs",
                       tmp_path / "cache")
    try:
        with pytest.raises(OSError, match="no-such-bucket"):
            gone.check()
        key = _stage(gone, b"data")
        with pytest.raises(OSError, match="1 of 1 blobs could not be uploaded.*no-such-bucket"):
            gone.sync([key])
    finally:
        gone.close()


def test_bad_blob_url_is_named() -> None:
    with pytest.raises(ValueError, match="http://x"):
        S3Location.parse("http://x")


# -- the archive on a bucket -----------------------------------------------------------------
def _post(archive: RunningArchive, data: list[bytes]) -> httpx.Response:
    boundary = "s3-boundary"
    body = b"".join(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n"
                    + d + b"\r\n" for d in data) + b"--" + boundary.encode() + b"--\r\n"
    with archive.http() as http:
        return http.post("/dicom-web/studies", content=body,
                         headers={"Content-Type": f"{MULTIPART}; boundary={boundary}"})


def _cached_files(archive: RunningArchive) -> list[Path]:
    return [p for p in (archive.data_dir / "s3-cache" / "blobs").rglob("*.dcm") if p.is_file()]


def test_round_trip_through_the_bucket(archive: RunningArchive, s3_endpoint: str) -> None:
    bucket: str = archive.bucket  # type: ignore[attr-defined]
    before = _objects(s3_endpoint, bucket, "site/blobs/")
    ct = make_ct(n=3, seed=1301, rows=64, columns=64)
    xa = make_xa(n_frames=4, seed=1302, rows=48, columns=40)
    stored = [to_bytes(ds) for ds in [*ct, xa]]
    assert _post(archive, stored).status_code == 200
    added = {k: v for k, v in _objects(s3_endpoint, bucket, "site/blobs/").items()
             if k not in before}
    assert sorted(added.values()) == sorted(len(b) for b in stored)
    for path in _cached_files(archive):  # only the bucket has them now
        path.unlink()
    study, series, sop = xa.StudyInstanceUID, xa.SeriesInstanceUID, xa.SOPInstanceUID
    base = f"/dicom-web/studies/{study}/series/{series}/instances/{sop}"
    with archive.http() as http:
        found = http.get("/dicom-web/studies", params={"StudyInstanceUID": study}).json()
        assert [s["0020000D"]["Value"][0] for s in found] == [study]
        frames = http.get(f"{base}/frames/2,4", headers={
            "Accept": 'multipart/related; type="application/octet-stream"'})
        assert frames.status_code == 200
        pixels = xa.pixel_array
        for number in (2, 4):
            assert pixels[number - 1].tobytes() in frames.content
        rendered = http.get(f"{base}/frames/3/rendered", headers={"Accept": "image/png"})
        assert rendered.status_code == 200 and rendered.content[:4] == b"\x89PNG"
        assert _cached_files(archive) == []  # frames and rendering read byte ranges
        meta = http.get(f"{base}/metadata").json()
        assert meta[0]["00280008"]["Value"] == [4]
        whole = http.get(base, headers={"Accept": f"{MULTIPART}; transfer-syntax=*"})
        assert whole.status_code == 200 and stored[-1] in whole.content
        for uid in (study, ct[0].StudyInstanceUID):
            gone = http.delete(f"/dicom-web/studies/{uid}")
            assert gone.status_code == 200, gone.text
        assert http.get(f"{base}/metadata").status_code == 404
    left = _objects(s3_endpoint, bucket, "site/blobs/")
    assert [k for k in added if k in left] == []  # the deleted studies' objects are gone


def test_media_uploads_live_in_the_bucket(archive: RunningArchive, s3_endpoint: str) -> None:
    bucket: str = archive.bucket  # type: ignore[attr-defined]
    admin = active_practice(archive, "admin@s3-media.example", practice="S3 Media")
    study = make_study(("CT",), seed=1305, patient=make_patient(8, seed=1305))
    assert stow(archive, admin.headers, study).status_code == 200
    uid = study[0].StudyInstanceUID
    pdf = files.pdf("kept in a bucket")
    r = httpx.post(f"{archive.url}/api/media", headers=admin.headers, timeout=60,
                   data={"upload_type": "document", "study_uid": uid},
                   files=[("files", ("referral.pdf", pdf))])
    assert r.status_code == 201, r.text
    url = archive.url + r.json()["stored"][0]["content_url"]
    objects = _objects(s3_endpoint, bucket, "site/media/")
    assert len(pdf) in objects.values()
    for path in (archive.data_dir / "s3-cache" / "media").rglob("*.bin"):
        path.unlink()  # served from the bucket
    assert httpx.get(url, headers=admin.headers).content == pdf
    assert httpx.delete(f"{archive.dicomweb}/studies/{uid}", headers=admin.headers
                        ).status_code == 200
    assert len(_objects(s3_endpoint, bucket, "site/media/")) == len(objects) - 1


def test_failed_upload_leaves_no_row(tmp_path: Path, s3_endpoint: str) -> None:
    bucket = _bucket(s3_endpoint)
    running = start_archive(tmp_path / "data", **_s3_env(s3_endpoint, bucket))
    try:
        _client(s3_endpoint).delete_bucket(Bucket=bucket)  # the store fails under it
        ds = make_ct(n=1, seed=1303)[0]
        r = _post(running, [to_bytes(ds)])
        assert r.status_code == 409, r.text
        assert "cannot write the instance" in r.text and bucket in r.text
        with running.http() as http:
            assert http.get("/dicom-web/studies",
                            params={"StudyInstanceUID": ds.StudyInstanceUID}).json() == []
        assert [p for p in (running.data_dir / "s3-cache").rglob("*") if p.is_file()] == []
        _client(s3_endpoint).create_bucket(Bucket=bucket)  # back: the retry succeeds
        assert _post(running, [to_bytes(ds)]).status_code == 200
        with running.http() as http:
            found = http.get("/dicom-web/studies",
                             params={"StudyInstanceUID": ds.StudyInstanceUID}).json()
            assert len(found) == 1
    finally:
        stop_archive(running)


def test_sweep_indexes_an_object_whose_row_was_lost(tmp_path: Path, s3_endpoint: str) -> None:
    # as if a process uploaded it, answered, and the power cut lost the index commit
    bucket = _bucket(s3_endpoint)
    ds = make_ct(n=1, seed=1304)[0]
    key = f"site/blobs/{datetime.now(UTC):%Y/%m/%d/%H}/{uuid.uuid4().hex}.dcm"
    _client(s3_endpoint).put_object(Bucket=bucket, Key=key, Body=to_bytes(ds))
    running = start_archive(tmp_path / "data", **_s3_env(s3_endpoint, bucket))
    try:
        with running.http() as http:
            r = http.get(f"/dicom-web/studies/{ds.StudyInstanceUID}/metadata")
            assert r.status_code == 200
            assert r.json()[0]["00080018"]["Value"] == [ds.SOPInstanceUID]
            frame = http.get(
                f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
                f"/instances/{ds.SOPInstanceUID}/frames/1",
                headers={"Accept": 'multipart/related; type="application/octet-stream"'})
            assert np.asarray(ds.pixel_array).tobytes() in frame.content
    finally:
        stop_archive(running)
