"""Distribution of signed reports over a real SMTP server and the fax spool, with the
delivery log, retries, failures, re-sending of amended reports; and dictation."""

from __future__ import annotations

import email
import io
import json
import shutil
import sqlite3
import subprocess
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import (
    RunningArchive,
    free_port,
    requires_sqlite,
    start_archive,
    stop_archive,
)
from tests.server.people import PASSWORD, VALID_NPIS, Person, link_secret, login, stow, token_for
from tests.synth import make_patient, make_study

pytestmark = pytest.mark.slow  # a server with SMTP on loopback; waits for retries


class Inbox:
    """Keeps messages; refuses report e-mails to ``bounce@`` addresses (554)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content)
        if "report" in message["Subject"] and envelope.rcpt_tos[0].startswith("bounce@"):
            return "554 5.7.1 message refused"
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str, subject: str, count: int = 1, timeout: float = 20
           ) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if m["To"] == address and subject in m["Subject"]]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {count} e-mail(s) '{subject}' to {address}")


def _body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


@dataclass
class World:
    archive: RunningArchive
    inbox: Inbox
    physician: Person
    referrer: Person
    bouncer: Person
    typist: Person
    study: str

    def api(self, who: Person) -> httpx.Client:
        return httpx.Client(base_url=f"{self.archive.url}/api", headers=who.headers, timeout=60)


def _member(archive: RunningArchive, inbox: Inbox, address: str, roles: list[str],
            **extra: object) -> Person:
    r = httpx.post(f"{archive.url}/api/members", headers=archive.headers, json={
        "email": address, "name": "Dr " + address.split("@")[0], "roles": roles, **extra})
    assert r.status_code == 201, r.text
    secret = link_secret(_body(inbox.to(address, "")[-1]))
    assert httpx.post(f"{archive.url}/api/auth/password",
                      json={"token": secret, "password": PASSWORD}).status_code == 200
    client = login(archive, address)
    try:
        me = client.get("/api/me").json()
        return Person(address, me["user_id"], me["account_id"], token_for(client))
    finally:
        client.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    archive = start_archive(tmp_path_factory.mktemp("distribution") / "data",
                            WORKBENCH_SMTP_HOST="127.0.0.1", WORKBENCH_SMTP_PORT=str(port),
                            WORKBENCH_REPORT_RETRY_S="0.3", WORKBENCH_REPORT_DELIVERY_ATTEMPTS="2")
    try:
        physician = _member(archive, inbox, "reader@local.example", ["reading_physician"],
                            npi=VALID_NPIS[4])
        referrer = _member(archive, inbox, "ref@partner.example", ["referring_physician"],
                           distribution="both", fax_number="+1 555 010 2000")
        bouncer = _member(archive, inbox, "bounce@partner.example", ["referring_physician"])
        typist = _member(archive, inbox, "typist@local.example", ["transcriptionist"])
        study = make_study(("CT",), seed=601, patient=make_patient(3, seed=60))
        assert stow(archive, archive.headers, study).status_code == 200
        uid = str(study[0].StudyInstanceUID)
        for who in (referrer, bouncer):
            assert httpx.post(f"{archive.url}/api/shares", headers=archive.headers, json={
                "study_uid": uid, "user_email": who.email}).status_code == 201
        yield World(archive, inbox, physician, referrer, bouncer, typist, uid)
    finally:
        stop_archive(archive)
        controller.stop()


def _wait(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met: {check}")


def _signed_report(world: World) -> str:
    with world.api(world.physician) as api:
        r = api.post(f"/studies/{world.study}/reports", json={
            "template": "free-text", "values": {"findings": "Clear lungs.",
                                                "impression": "Normal chest CT."}})
        rid = str(r.json()["id"])
        assert api.post(f"/reports/{rid}/sign", json={"password": PASSWORD}).status_code == 200
        return rid


def test_distribution_log_retries_and_resend(world: World) -> None:
    rid = _signed_report(world)
    spool = world.archive.data_dir / "fax-spool"
    with world.api(world.physician) as api:
        with world.api(world.referrer) as referrer:
            assert referrer.post(f"/reports/{rid}/distribute", json={}).status_code == 403
        r = api.post(f"/reports/{rid}/distribute", json={})
        assert r.status_code == 202, r.text
        assert sorted((d["address"], d["channel"]) for d in r.json()) == [
            ("+15550102000", "fax"), ("bounce@partner.example", "email"),
            ("ref@partner.example", "email")]
        message = world.inbox.to(world.referrer.email, "signed report")[0]
        assert "Normal chest" not in _body(message)  # a link, no patient data
        link = _body(message).split("\n")[3].strip()
        assert link.startswith(f"{world.archive.url}/api/report-links/")
        assert httpx.get(link, headers=world.physician.headers).status_code == 404
        opened = httpx.get(link, headers=world.referrer.headers)
        assert opened.status_code == 200 and opened.content.startswith(b"%PDF")
        job = _wait(lambda: sorted((spool / "outgoing").glob("*.json")))[0]
        control = json.loads(job.read_text())
        assert control["number"] == "+15550102000"
        assert (spool / "outgoing" / control["document"]).read_bytes().startswith(b"%PDF")
        (spool / "done" / job.name).write_text('{"detail": "3 pages"}')

        def states() -> dict[str, str]:
            return {d["address"]: d["state"] for d in api.get(f"/reports/{rid}/deliveries").json()}
        _wait(lambda: states() == {"ref@partner.example": "sent", "+15550102000": "sent",
                                   "bounce@partner.example": "failed"})
        failed = api.get("/report-deliveries", params={"state": "failed"}).json()
        bounce = next(d for d in failed if d["address"] == "bounce@partner.example")
        assert bounce["attempts"] == 2 and "554" in bounce["last_error"]
        assert api.post(f"/report-deliveries/{bounce['id']}/retry").json() == {"state": "queued"}
        assert api.post(f"/report-deliveries/{bounce['id']}/retry").status_code in (200, 409)
        _wait(lambda: states()["bounce@partner.example"] == "failed")
        # an addendum goes to everyone who received the report, and only to them
        api.post(f"/reports/{rid}/addenda", json={"text": "Small nodule noted on review."})
        resent = api.post(f"/reports/{rid}/sign", json={"password": PASSWORD}).json()["resent"]
        assert len(resent) == 2
        log = api.get(f"/reports/{rid}/deliveries").json()
        newest = {(d["address"], d["version"]) for d in log if d["id"] in resent}
        version = max(v for _, v in newest)
        assert newest == {("ref@partner.example", version), ("+15550102000", version)}
        world.inbox.to(world.referrer.email, "signed report", count=2)


@requires_sqlite
def test_a_delivery_left_sending_by_a_dead_worker_is_sent_once_its_lease_ends(
        world: World) -> None:
    """A worker killed mid-send leaves its row in ``sending``: after the lease another
    worker sends it; a row whose lease still runs is left to its worker."""
    rid = _signed_report(world)
    with world.api(world.physician) as api:
        r = api.post(f"/reports/{rid}/distribute", json={"recipients": [
            {"user_id": world.physician.user_id}]})
        assert r.status_code == 202, r.text
        pk = r.json()[0]["id"]
        _wait(lambda: api.get(f"/reports/{rid}/deliveries").json()[0]["state"] == "sent")
        before = len(world.inbox.to(world.physician.email, "signed report", count=0))
        index = sqlite3.connect(world.archive.data_dir / "index.sqlite")
        try:
            with index:   # as a worker that died after claiming it would have left it
                index.execute("UPDATE report_deliveries SET state = 'sending', "
                              "next_attempt_at = datetime('now', '+1 hour') WHERE pk = ?", (pk,))
            time.sleep(2.0)   # the worker polls about every 0.15 s here
            assert api.get(f"/reports/{rid}/deliveries").json()[0]["state"] == "sending"
            with index:   # the lease runs out
                index.execute("UPDATE report_deliveries SET next_attempt_at = "
                              "datetime('now', '-1 minute') WHERE pk = ?", (pk,))
        finally:
            index.close()
        done = _wait(lambda: next((d for d in api.get(f"/reports/{rid}/deliveries").json()
                                   if d["state"] == "sent"), None))
        assert done["attempts"] == 2 and done["next_attempt_at"] is None
        assert len(world.inbox.to(world.physician.email, "signed report",
                                  count=before + 1)) == before + 1


def test_failed_fax_is_retried_then_failed(world: World) -> None:
    rid = _signed_report(world)
    spool = world.archive.data_dir / "fax-spool"
    before = set((spool / "outgoing").glob("*.json"))
    with world.api(world.physician) as api:
        r = api.post(f"/reports/{rid}/distribute", json={"recipients": [
            {"fax": "+1 555 010 9999", "name": "Dr Fax"}]})
        assert r.status_code == 202, r.text
        for _ in (1, 2):  # the fax software reports each attempt as failed
            job = _wait(_new_files(spool / "outgoing", frozenset(before)))
            before |= job
            (spool / "failed" / next(iter(job)).name).write_text('{"detail": "no answer"}')
        log = _wait(lambda: [d for d in api.get(f"/reports/{rid}/deliveries").json()
                             if d["state"] == "failed"])
        assert log[0]["attempts"] == 2 and "no answer" in log[0]["last_error"]
        assert api.post(f"/reports/{rid}/distribute", json={"recipients": [
            {"user_id": 999999}]}).status_code == 422


def _new_files(folder: Path, known: frozenset[Path]) -> Callable[[], set[Path]]:
    return lambda: set(folder.glob("*.json")) - known


def _wav(world: World, tmp_path: Path) -> bytes:
    espeak = shutil.which("espeak-ng")
    if espeak is not None:
        out = tmp_path / "dictation.wav"
        subprocess.run([espeak, "-w", str(out), "no evidence of ischemia"], check=True)
        return out.read_bytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.sin(np.arange(16000) / 5) * 3000).astype("<i2").tobytes())
    return buffer.getvalue()


def test_dictation_queue_playback_and_transcription(world: World, tmp_path: Path) -> None:
    audio = _wav(world, tmp_path)
    fresh = make_study(("CT",), seed=602, patient=make_patient(4, seed=60))
    assert stow(world.archive, world.archive.headers, fresh).status_code == 200
    study = str(fresh[0].StudyInstanceUID)
    with world.api(world.physician) as api:
        assert api.post(f"/studies/{world.study}/dictations", content=b"not audio at all",
                        headers={"Content-Type": "audio/wav"}).status_code == 422
        assert api.post(f"/studies/{world.study}/dictations", json={}).status_code == 415
        r = api.post(f"/studies/{study}/dictations", content=audio,
                     headers={"Content-Type": "audio/wav"})
        assert r.status_code == 201, r.text
        dictation = r.json()
        assert dictation["state"] == "queued" and dictation["size"] == len(audio)
    did = dictation["id"]
    with world.api(world.referrer) as referrer:
        assert referrer.get("/dictations").status_code == 403
        assert referrer.post(f"/studies/{world.study}/dictations", content=audio,
                             headers={"Content-Type": "audio/wav"}).status_code == 403
    with world.api(world.typist) as typist:
        queue = typist.get("/dictations", params={"state": "queued"}).json()
        assert did in [d["id"] for d in queue]
        part = typist.get(f"/dictations/{did}/audio", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == audio[:100]
        assert typist.post(f"/dictations/{did}/claim").json()["state"] == "in_progress"
        with world.api(world.physician) as api:
            assert api.post(f"/dictations/{did}/claim").status_code == 409
        heard = typist.post(f"/dictations/{did}/recognize")
        assert heard.status_code == 200, heard.text
        if shutil.which("espeak-ng"):
            assert heard.json()["text"] == "no evidence of ischemia"
        done = typist.post(f"/dictations/{did}/transcript",
                           json={"text": "No evidence of ischaemia.", "field": "findings"})
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "done" and done.json()["report_id"]
        assert typist.post(f"/dictations/{did}/transcript", json={"text": "again"}
                           ).status_code == 409
        rid = done.json()["report_id"]
    with world.api(world.physician) as api:
        report = api.get(f"/reports/{rid}").json()
        assert "No evidence of ischaemia." in report["versions"][-1]["content"]["values"][
            "findings"]
        assert report["status"] == "draft" and report["template"] == "general-radiology"
        # dictation for a signed report becomes an addendum
        rid = _signed_report(world)
        r = api.post(f"/studies/{world.study}/dictations", content=audio,
                     headers={"Content-Type": "audio/wav"})
        done = api.post(f"/dictations/{r.json()['id']}/transcript",
                        json={"text": "Addendum by dictation.", "report_id": rid}).json()
        last = api.get(f"/reports/{rid}").json()["versions"][-1]
        assert done["report_id"] == rid and last["kind"] == "addendum"
        assert last["content"]["values"] == {"text": "Addendum by dictation."}
