"""Storage terms, extensions, legal holds and the purge on a running archive.

Studies are made old by editing the test archive's index (``backdate_study``); the purge
runs through the staff API, the ``workbench retention purge`` command, and the service
itself for an interrupted run.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import httpx
import pytest

from server.db.engine import make_engine
from server.services.audit import AuditLog, verify_chain
from server.services.events import EventBus
from server.services.purge import Stores, _delete_rows, purge
from server.storage.local import LocalBlobStore
from tests.conftest import ROOT, RunningArchive, start_archive, stop_archive
from tests.server.billing_fixtures import backdate_study, entries_for, index, ledger, wait_for
from tests.server.people import Person, active_practice, add_member, stow
from tests.synth import make_patient, make_study

SEEDS = count(500)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArchive]:
    running = start_archive(tmp_path_factory.mktemp("retention") / "data")
    yield running
    stop_archive(running)


@pytest.fixture(scope="module")
def practice(site: RunningArchive) -> Person:
    return active_practice(site, "admin@keep.example", practice="Keeping clinic")


def new_study(site: RunningArchive, person: Person) -> str:
    seed = next(SEEDS)
    datasets = make_study(("CT",), seed=seed, patient=make_patient(seed % 5, seed=seed))
    assert stow(site, person.headers, datasets).status_code == 200
    return str(datasets[0].StudyInstanceUID)


def term(site: RunningArchive, person: Person, study: str) -> dict[str, object]:
    terms = httpx.get(f"{site.url}/api/retention/studies", headers=person.headers,
                      params={"limit": 10000}).json()["terms"]
    return next(t for t in terms if t["study_uid"] == study)


def blob_paths(site: RunningArchive, study: str) -> list[Path]:
    with closing(index(site)) as conn:
        return [site.data_dir / "blobs" / key for (key,) in conn.execute(
            "SELECT blob FROM instances JOIN studies ON studies.pk = instances.study_pk "
            "WHERE study_uid = ?", (study,))]


def purge_api(site: RunningArchive, **body: object) -> dict[str, object]:
    r = httpx.post(f"{site.url}/api/staff/retention/purge", headers=site.headers, json=body,
                   timeout=60)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_new_studies_are_kept_six_months(site: RunningArchive, practice: Person) -> None:
    study = new_study(site, practice)
    t = term(site, practice, study)
    received = datetime.fromisoformat(str(t["received_at"]))
    assert (t["paid_months"], t["status"], t["legal_hold"]) == (6, "paid", False)
    paid_until = datetime.fromisoformat(str(t["paid_until"]))
    assert 181 <= (paid_until - received).days <= 184
    assert datetime.fromisoformat(str(t["max_until"])).year == received.year + 7


def test_extending_storage_is_charged_and_capped(site: RunningArchive, practice: Person) -> None:
    study = new_study(site, practice)
    url = f"{site.url}/api/retention/studies/{study}/extend"
    one = httpx.post(url, headers=practice.headers, json={"years": 1, "idempotency_key": "x1"})
    same = httpx.post(url, headers=practice.headers, json={"years": 1, "idempotency_key": "x1"})
    assert one.status_code == same.status_code == 200, one.text
    assert (one.json()["added_months"], one.json()["amount"], one.json()["repeated"]) == (12, 200,
                                                                                        False)
    assert same.json()["repeated"] and same.json()["term"]["paid_months"] == 18
    capped = httpx.post(url, headers=practice.headers, json={"years": 7}).json()
    assert (capped["added_months"], capped["amount"], capped["term"]["paid_months"]) == (66, 1100,
                                                                                         84)
    assert capped["term"]["paid_until"] == capped["term"]["max_until"]
    refused = httpx.post(url, headers=practice.headers, json={"years": 1})
    assert refused.status_code == 422 and "maximum" in refused.text
    storage = [e["amount"] for e in entries_for(site, practice.headers, study, count=3)
               if e["kind"] == "storage"]
    assert storage == [200, 1100]


def test_only_the_owning_account_keeps_a_study(site: RunningArchive, practice: Person) -> None:
    study = new_study(site, practice)
    other = active_practice(site, "admin@other-keep.example", practice="Other",
                            npi="1003000126")
    tech = add_member(site, practice.headers, "tech@keep.example", ["technologist"])
    url = f"{site.url}/api/retention/studies/{study}/hold"
    assert httpx.put(url, headers=other.headers, json={}).status_code == 404
    assert httpx.put(url, headers=tech.headers, json={}).status_code == 403
    staff = httpx.put(f"{site.url}/api/staff/retention/studies/{study}/hold",
                      headers=site.headers, json={"reason": "court order 17"})
    assert staff.status_code == 200 and staff.json()["hold_reason"] == "court order 17"
    lifted = httpx.delete(url, headers=practice.headers)
    assert lifted.status_code == 200 and lifted.json()["status"] == "paid"


def test_purge_deletes_expired_keeps_held_and_paid(site: RunningArchive, practice: Person
                                                   ) -> None:
    expired, held, paid, fresh = (new_study(site, practice) for _ in range(4))
    httpx.post(f"{site.url}/api/retention/studies/{paid}/extend", headers=practice.headers,
               json={"years": 1}).raise_for_status()
    httpx.put(f"{site.url}/api/retention/studies/{held}/hold", headers=practice.headers,
              json={"reason": "litigation"}).raise_for_status()
    for study in (expired, held, paid):
        backdate_study(site, study, days=200)
    files = blob_paths(site, expired)
    assert files and all(p.exists() for p in files)
    assert term(site, practice, expired)["status"] == "expired"
    assert term(site, practice, held)["status"] == "held"

    dry = purge_api(site)  # dry run by default
    assert [s["study_uid"] for s in dry["studies"]] == [expired] and dry["held_kept"] == 1
    assert all(p.exists() for p in files)
    later = purge_api(site, as_of=(datetime.now(UTC) + timedelta(days=400)).isoformat())
    assert {s["study_uid"] for s in later["studies"]} >= {expired, paid, fresh}
    assert held not in {s["study_uid"] for s in later["studies"]}
    assert httpx.post(f"{site.url}/api/staff/retention/purge", headers=site.headers, json={
        "dry_run": False, "as_of": (datetime.now(UTC) + timedelta(days=400)).isoformat()}
    ).status_code == 422  # the future is for dry runs only

    done = purge_api(site, dry_run=False)
    assert [s["study_uid"] for s in done["studies"]] == [expired]
    assert not any(p.exists() for p in files)
    assert httpx.get(f"{site.dicomweb}/studies/{expired}/metadata",
                     headers=practice.headers).status_code == 404
    for kept in (held, paid, fresh):
        assert httpx.get(f"{site.dicomweb}/studies/{kept}/metadata",
                         headers=practice.headers).status_code == 200
    record = httpx.get(f"{site.url}/api/retention/studies", headers=practice.headers,
                       params={"purged": True}).json()["terms"]
    assert [(r["study_uid"], r["status"], r["num_instances"]) for r in record] == \
        [(expired, "purged", 4)]
    audit = httpx.get(f"{site.url}/api/audit", headers=site.headers,
                      params={"action": "purge"}).json()
    assert [(a["study_uid"], a["outcome"]) for a in audit] == [(expired, "ok")]
    assert "retention expired" in audit[0]["detail"]
    assert purge_api(site, dry_run=False)["studies"] == []  # nothing left to do


@pytest.mark.slow
def test_cli_purge_and_a_study_stored_again(site: RunningArchive, practice: Person) -> None:
    study = new_study(site, practice)
    entries_for(site, practice.headers, study)
    backdate_study(site, study, days=190)
    command = [sys.executable, "-m", "workbench.cli", "retention", "purge", "--data-dir",
               str(site.data_dir)]
    dry = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "would purge 1 studies" in dry.stdout and study in dry.stdout
    dictation = site.data_dir / "dictations" / study
    dictation.mkdir(parents=True)
    (dictation / "note.wav").write_bytes(b"RIFF")  # where the archive keeps dictation audio
    real = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert real.returncode == 0, real.stderr
    assert "purged 1 studies" in real.stdout and study in real.stdout
    assert not dictation.exists()  # the study's dictation audio went with it
    assert httpx.get(f"{site.dicomweb}/studies/{study}/metadata",
                     headers=practice.headers).status_code == 404
    # stored again after the purge: a new receipt, a new six months, charged again
    seed = 9090
    again = make_study(("CT",), seed=seed, patient=make_patient(1, seed=seed), study_uid=study)
    assert stow(site, practice.headers, again).status_code == 200
    charges = entries_for(site, practice.headers, study, count=2)
    assert [e["idempotency_key"] for e in charges] == [f"study:{study}", f"study:{study}#1"]
    fresh = wait_for(lambda: (t := term(site, practice, study)) and t["status"] == "paid" and t,
                     what="a fresh term")
    assert fresh["paid_months"] == 6


def test_an_interrupted_purge_finishes_on_the_next_run(site: RunningArchive,
                                                       practice: Person) -> None:
    study = new_study(site, practice)
    backdate_study(site, study, days=400)
    files = blob_paths(site, study)
    engine = make_engine(f"sqlite:///{site.data_dir / 'index.sqlite'}")
    audit = AuditLog(engine)
    stores = Stores(LocalBlobStore(site.data_dir / "blobs"),
                    LocalBlobStore(site.data_dir / "media"))
    try:
        assert _delete_rows(engine, study, datetime.now(UTC).replace(tzinfo=None)) is not None
        assert all(p.exists() for p in files)  # killed here: rows gone, files still there
        report = purge(engine, stores, audit, EventBus(), actor="test", dry_run=False)
        assert report.resumed == [study] and report.studies == []
        assert not any(p.exists() for p in files)
        audit.flush()
        assert verify_chain(engine).intact
    finally:
        audit.close()
        stores.dicom.close()
        stores.media.close()
        engine.dispose()
    events = httpx.get(f"{site.url}/api/audit", headers=site.headers,
                       params={"action": "purge", "study_uid": study}).json()
    assert len(events) == 1 and "interruption" in events[0]["detail"]


def test_suspended_accounts_see_terms_but_cannot_extend(site: RunningArchive) -> None:
    person = active_practice(site, "admin@suspended-keep.example", practice="Suspended",
                             npi="1497758544")
    study = new_study(site, person)
    r = httpx.post(f"{site.url}/api/staff/accounts/{person.account_id}/state",
                   headers=site.headers, json={"state": "suspended", "reason": "testing"})
    assert r.status_code == 200, r.text
    listed = wait_for(lambda: httpx.get(f"{site.url}/api/retention/studies",
                                        headers=person.headers).status_code == 200)
    assert listed
    r = httpx.post(f"{site.url}/api/retention/studies/{study}/extend", headers=person.headers,
                   json={"years": 1})
    assert r.status_code == 403 and "suspended" in r.text
    assert [e for e in ledger(site, person.headers) if e["kind"] == "storage"] == []
