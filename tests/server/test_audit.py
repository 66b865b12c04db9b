"""The audit trail: who looked at what, hash-chained, searchable, tamper-evident."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import httpx

from tests.conftest import ROOT, RunningArchive, requires_sqlite
from tests.server.people import active_practice, add_member, stow
from tests.synth import make_patient, make_study


def _events(archive: RunningArchive, headers: dict[str, str], **params: str
            ) -> list[dict[str, object]]:
    r = httpx.get(f"{archive.url}/api/audit", headers=headers, params={"limit": "1000", **params})
    assert r.status_code == 200, r.text
    events: list[dict[str, object]] = r.json()
    return events


def test_every_access_to_patient_data_is_audited(fresh_archive: RunningArchive) -> None:
    site = fresh_archive
    a = active_practice(site, "admin@audited-a.example", practice="Audited A")
    b = active_practice(site, "admin@audited-b.example", practice="Audited B",
                        npi="1003000126")
    patient = make_patient(3, seed=81)
    study = make_study(("CT",), seed=801, patient=patient)
    uid = study[0].StudyInstanceUID
    series_uid = study[0].SeriesInstanceUID
    assert stow(site, a.headers, study).status_code == 200
    family = str(patient.name).split("^")[0]
    base = f"{site.dicomweb}/studies/{uid}"
    httpx.get(f"{site.dicomweb}/studies", params={"PatientName": family + "*"},
              headers=a.headers)
    httpx.get(f"{base}/metadata", headers=a.headers)
    httpx.get(f"{base}/series/{series_uid}", headers=a.headers)
    denied = httpx.get(f"{base}/metadata", headers=b.headers)
    assert denied.status_code == 404
    httpx.get(f"{site.dicomweb}/studies", headers={"Authorization": "Bearer forged"})
    reader = add_member(site, a.headers, "reader@audited-a.example", ["reading_physician"])
    httpx.post(f"{site.url}/api/shares", headers=a.headers,
               json={"study_uid": uid, "user_email": "admin@audited-b.example"})
    assert httpx.delete(base, headers=a.headers).status_code == 200

    events = _events(site, a.headers)
    by_action = {(e["action"], e["actor"], e["outcome"]) for e in events}
    assert ("store", a.email, "200") in by_action
    assert ("search", a.email, "200") in by_action
    assert ("view", a.email, "200") in by_action
    assert ("download", a.email, "200") in by_action
    assert ("view", b.email, "404") in by_action  # B tried A's study: A's admin sees it
    assert ("share", a.email, "ok") in by_action
    assert ("delete", a.email, "200") in by_action
    assert ("member-add", a.email, "ok") in by_action
    assert ("login", reader.email, "ok") in by_action
    search = next(e for e in events if e["action"] == "search")
    assert f"PatientName={family}" in str(search["resource"])
    assert all(e["remote"] == "127.0.0.1" for e in events if e["action"] != "signup")
    # filters; B's administrator sees B's own events only; the forged token is recorded
    assert {e["action"] for e in _events(site, a.headers, action="view")} == {"view"}
    assert {e["study_uid"] for e in _events(site, a.headers, study_uid=uid)} == {uid}
    b_events = _events(site, b.headers)
    assert all(e["actor"] == b.email or e["study_uid"] == "" for e in b_events)
    staff = {"Authorization": f"Bearer {site.token}"}
    assert any(e["actor"] == "unauthenticated" and e["outcome"] == "401"
               for e in _events(site, staff))
    # members without the administrator role may not read the trail
    assert httpx.get(f"{site.url}/api/audit", headers=reader.headers).status_code == 403
    # and no patient data reached the application log
    log = (site.data_dir.parent / f"{site.data_dir.name}-server.log").read_text()
    assert family not in log and patient.patient_id not in log


def _verify(site: RunningArchive) -> dict[str, object]:
    r = httpx.get(f"{site.url}/api/audit/verify",
                  headers={"Authorization": f"Bearer {site.token}"})
    assert r.status_code == 200
    report: dict[str, object] = r.json()
    return report


def _cli(site: RunningArchive) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "audit", "verify",
                           "--data-dir", str(site.data_dir)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


@requires_sqlite
def test_tampering_is_detected(fresh_archive: RunningArchive) -> None:
    site = fresh_archive
    for _ in range(5):
        httpx.get(f"{site.dicomweb}/studies", headers=site.headers)
    time.sleep(0.2)
    report = _verify(site)
    assert report["intact"] and int(str(report["rows"])) >= 5
    ok = _cli(site)
    assert ok.returncode == 0 and "intact" in ok.stdout
    with sqlite3.connect(site.data_dir / "index.sqlite") as db:
        victim = db.execute("SELECT pk FROM audit_events ORDER BY pk LIMIT 1 OFFSET 2"
                            ).fetchone()[0]
        db.execute("UPDATE audit_events SET outcome = '403' WHERE pk = ?", (victim,))
    report = _verify(site)
    assert not report["intact"] and report["first_bad_id"] == victim
    assert "changed" in str(report["problem"])
    bad = _cli(site)
    assert bad.returncode == 3 and f"event {victim}" in bad.stdout
    with sqlite3.connect(site.data_dir / "index.sqlite") as db:
        db.execute("UPDATE audit_events SET outcome = '200' WHERE pk = ?", (victim,))
    assert _verify(site)["intact"]
    with sqlite3.connect(site.data_dir / "index.sqlite") as db:
        db.execute("DELETE FROM audit_events WHERE pk = ?", (victim,))
    report = _verify(site)
    assert not report["intact"] and "removed" in str(report["problem"])


def test_reading_the_trail_needs_an_administrator(archive: RunningArchive) -> None:
    assert httpx.get(f"{archive.url}/api/audit").status_code == 401
    assert httpx.get(f"{archive.url}/api/audit/verify").status_code == 401
