"""The forwarder: a durable spool, sending idle studies over STOW-RS with retries, and the
fault tests (SIGKILL mid-upload, remote archive stopped mid-study): every acknowledged
instance arrives at the remote archive exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom.dataset import Dataset
from pynetdicom import build_context

from server.dimse.forwarder import Forwarder, RetryLater
from server.dimse.spool import Spool
from tests.conftest import ROOT, free_port
from tests.server.dimse.conftest import (
    DriveArchive,
    scu,
    start_drive_archive,
    stop_process,
    wait_for_port,
)
from tests.synth import make_ct, to_bytes
from workbench.dicomweb.client_base import ArchiveUnavailableError, StoreResult
from workbench.errors import InvalidDicomError

# -- the spool and the sender, in-process ----------------------------------------------


def test_spool_keeps_instances_durably_by_study(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    first, second = make_ct(n=2, seed=3601, rows=8, columns=8)
    assert spool.put(to_bytes(first)) == first.StudyInstanceUID
    spool.put(to_bytes(second))
    names = {i.sop_uid for i in spool.instances(first.StudyInstanceUID)}
    assert names == {first.SOPInstanceUID, second.SOPInstanceUID}
    assert list((tmp_path / "spool" / "tmp").iterdir()) == []
    assert spool.ready(idle_s=60) == []
    assert spool.ready(idle_s=60, now=time.time() + 61) == [first.StudyInstanceUID]
    with pytest.raises(InvalidDicomError):
        spool.put(b"\0" * 128 + b"DICM" + b"not a data set")
    # a fresh start finds what was spooled, and drops what was cut off while arriving
    (tmp_path / "spool" / "tmp" / "cut.part").write_bytes(b"half")
    again = Spool(tmp_path / "spool")
    assert again.ready(idle_s=0) == [first.StudyInstanceUID]
    assert list((tmp_path / "spool" / "tmp").iterdir()) == []


def test_a_replaced_instance_is_not_removed_by_an_older_confirmation(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    ds = make_ct(n=1, seed=3602, rows=8, columns=8)[0]
    spool.put(to_bytes(ds))
    read_for_sending = spool.instances(ds.StudyInstanceUID)[0]
    ds.PatientName = "CORRECTED^NAME"
    time.sleep(0.01)
    spool.put(to_bytes(ds))  # a corrected version arrives while the old one is sent
    spool.done(read_for_sending)
    assert len(spool.instances(ds.StudyInstanceUID)) == 1


class FakeArchive:
    """Stands in for the STOW-RS client: answers from a function of the UIDs sent."""

    def __init__(self, answer: Callable[[list[str]], StoreResult]) -> None:
        self.answer = answer
        self.requests: list[list[str]] = []

    def store_instances(self, payload: list[bytes]) -> StoreResult:
        from tests.synth import from_bytes

        uids = [str(from_bytes(p).SOPInstanceUID) for p in payload]
        self.requests.append(uids)
        return self.answer(uids)


def test_forwarder_settles_stored_refused_and_transient(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    series = make_ct(n=4, seed=3603, rows=8, columns=8)
    for ds in series:
        spool.put(to_bytes(ds))
    uids = sorted(ds.SOPInstanceUID for ds in series)
    verdict = {uids[0]: "stored", uids[1]: "refused", uids[2]: "busy", uids[3]: "stored"}

    def answer(sent: list[str]) -> StoreResult:
        return StoreResult([u for u in sent if verdict[u] == "stored"],
                           [(u, 0xC000 if verdict[u] == "refused" else 0xA700, "why")
                            for u in sent if verdict[u] != "stored"], 202)

    archive = FakeArchive(answer)
    forwarder = Forwarder(spool, "http://remote.invalid/dicom-web", idle_s=0, batch_bytes=1)
    with pytest.raises(RetryLater):
        forwarder.send_study(archive, series[0].StudyInstanceUID)  # type: ignore[arg-type]
    left = {i.sop_uid for i in spool.instances(series[0].StudyInstanceUID)}
    assert uids[0] not in left and uids[1] not in left and uids[2] in left
    assert [f["instance"] for f in spool.failures()] == [uids[1]]
    assert "C000" in spool.failures()[0]["reason"]
    verdict[uids[2]] = "stored"
    forwarder.send_study(archive, series[0].StudyInstanceUID)  # type: ignore[arg-type]
    assert spool.instances(series[0].StudyInstanceUID) == []
    assert spool.sent_totals() == (2, 3)  # uids[0] first; uids[2], uids[3] in the second
    assert spool.retry_failed() == 1
    assert {i.sop_uid for i in spool.instances(series[0].StudyInstanceUID)} == {uids[1]}


def test_forwarder_backs_off_while_the_archive_is_unreachable(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    ds = make_ct(n=1, seed=3604, rows=8, columns=8)[0]
    spool.put(to_bytes(ds))

    def unreachable(_sent: list[str]) -> StoreResult:
        raise ArchiveUnavailableError("cannot reach the archive: connection refused")

    forwarder = Forwarder(spool, "http://remote.invalid/dicom-web", idle_s=0,
                          retry_max_s=4)
    archive = FakeArchive(unreachable)
    assert forwarder.run_once(archive)  # type: ignore[arg-type]
    status = forwarder.status()
    assert "connection refused" in status["last_error"]
    assert status["retry_in_s"] is not None and status["retry_in_s"] > 0
    assert not forwarder.run_once(archive)  # type: ignore[arg-type] # still waiting
    assert len(archive.requests) == 1
    assert status["spooled"][0]["instances"] == 1


# -- the real forwarder process against a real remote archive -------------------------


class DriveProcess:
    """``workbench drive --forward`` in a subprocess."""

    def __init__(self, tmp: Path, remote: DriveArchive, key: str) -> None:
        self.port = free_port()
        self.status_port = free_port()
        self.spool = tmp / "spool"
        self.log = tmp / "forwarder.log"
        self.argv = [sys.executable, "-m", "workbench.cli", "drive", "--forward",
                     remote.dicomweb, f"--token={key}", "--host", "127.0.0.1",
                     "--port", str(self.port), "--spool", str(self.spool), "--idle", "0.3",
                     "--ae-title", "DRIVE", "--status-port", str(self.status_port)]
        self.env = dict(os.environ, WORKBENCH_DATA_DIR=str(tmp / "drive-data"),
                        WORKBENCH_FORWARD_BATCH_BYTES="1",  # one instance per request
                        WORKBENCH_FORWARD_RETRY_MAX_S="1")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DriveProcess:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for_port(self.port, self.process, self.log)
        wait_for_port(self.status_port, self.process, self.log)
        return self

    def status(self) -> dict[str, Any]:
        r = httpx.get(f"http://127.0.0.1:{self.status_port}/status", timeout=10)
        assert r.status_code == 200
        data: dict[str, Any] = r.json()
        return data

    def send(self, datasets: list[Dataset]) -> set[str]:
        """C-STORE ``datasets``; return the SOP Instance UIDs acknowledged."""
        assoc = scu(self.port, "MODALITY", [build_context(datasets[0].SOPClassUID)],
                    called="DRIVE")
        assert assoc.is_established
        try:
            return {ds.SOPInstanceUID for ds in datasets
                    if assoc.send_c_store(ds).Status == 0x0000}
        finally:
            assoc.release()


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriveArchive]:
    """The remote archive the forwarder sends to (one per module; the last test stops
    and restarts it)."""
    archive = start_drive_archive(tmp_path_factory.mktemp("remote") / "data", dimse=False)
    yield archive
    stop_process(archive.process)


def _remote_uids(remote: DriveArchive, study: str) -> list[str]:
    try:
        r = httpx.get(f"{remote.dicomweb}/studies/{study}/instances", headers=remote.headers,
                      timeout=10)
    except httpx.HTTPError:
        return []
    if r.status_code != 200:
        return []
    return [i["00080018"]["Value"][0] for i in r.json()]


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _blobs(remote: DriveArchive) -> int:
    return len(list((remote.data_dir / "blobs").rglob("*.dcm")))


@pytest.mark.slow
def test_sigkill_mid_upload_then_restart(remote: DriveArchive, tmp_path: Path) -> None:
    key = remote.add_source("SITEA")["upload_key"]
    drive = DriveProcess(tmp_path, remote, key).start()
    series = make_ct(n=40, seed=3701, rows=32, columns=32)
    study = series[0].StudyInstanceUID
    blobs = _blobs(remote)
    try:
        acknowledged = drive.send(series)
        assert acknowledged == {ds.SOPInstanceUID for ds in series}
        _wait(lambda: len(_remote_uids(remote, study)) >= 3, 30, "the upload to start")
        assert drive.process is not None
        drive.process.send_signal(signal.SIGKILL)
        drive.process.wait(timeout=10)
        arrived = len(_remote_uids(remote, study))
        assert arrived < len(series), "killed too late: everything had arrived already"
        drive.start()
        _wait(lambda: len(_remote_uids(remote, study)) == len(series), 60, "the rest")
        _wait(lambda: drive.status()["spooled"] == [], 30, "an empty spool")
    finally:
        if drive.process is not None:
            stop_process(drive.process)
    uids = _remote_uids(remote, study)
    assert sorted(uids) == sorted(acknowledged)  # each once, none missing
    assert _blobs(remote) - blobs == len(series)  # no second copy of anything stored
    assert not list(drive.spool.glob("incoming/*/*.dcm"))


@pytest.mark.slow
def test_remote_archive_stopped_mid_study(remote: DriveArchive, tmp_path: Path) -> None:
    key = remote.add_source("SITEB")["upload_key"]
    drive = DriveProcess(tmp_path, remote, key).start()
    series = make_ct(n=40, seed=3801, rows=32, columns=32)
    study = series[0].StudyInstanceUID
    port = int(remote.url.rsplit(":", 1)[1])
    blobs = _blobs(remote)
    try:
        acknowledged = drive.send(series[:30])
        _wait(lambda: len(_remote_uids(remote, study)) >= 3, 30, "the upload to start")
        stop_process(remote.process)  # the remote archive goes away mid-study
        acknowledged |= drive.send(series[30:])  # the drive still takes what arrives
        assert acknowledged == {ds.SOPInstanceUID for ds in series}
        _wait(lambda: bool(drive.status()["last_error"]), 30, "the failure to show")
        down = drive.status()
        assert down["retry_in_s"] is not None
        assert sum(s["instances"] for s in down["spooled"]) > 0
        restarted = start_drive_archive(remote.data_dir, port=port, dimse=False)
        remote.process = restarted.process
        _wait(lambda: len(_remote_uids(remote, study)) == len(series), 60, "the rest")
        _wait(lambda: drive.status()["spooled"] == [], 30, "an empty spool")
        final = drive.status()
        assert final["failed"] == []
        assert final["sent"]["instances"] >= len(series)
    finally:
        if drive.process is not None:
            stop_process(drive.process)
    assert sorted(_remote_uids(remote, study)) == sorted(acknowledged)
    assert _blobs(remote) - blobs == len(series)


def test_drive_status_command(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put(to_bytes(make_ct(n=1, seed=3901, rows=8, columns=8)[0]))
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "drive", "--status",
                           "--spool", str(tmp_path / "spool")], capture_output=True,
                          text=True, cwd=ROOT, timeout=60,
                          env=dict(os.environ, WORKBENCH_DATA_DIR=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout[:done.stdout.rindex("}") + 1])
    assert status["spooled"][0]["instances"] == 1
    assert "spooled 1 stud(ies) / 1 instance(s)" in done.stdout
