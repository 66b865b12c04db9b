"""``workbench db copy``: a real SQLite archive moved to PostgreSQL answers the same.

Between two SQLite files (always run): every table is copied, the seeded rows replaced,
and a target holding rows is refused. With PostgreSQL (``postgres`` marker): an archive
on SQLite gets a practice, a member, studies and a share (so every kind of row and the
audit chain exist); it is stopped, its index copied into an empty database
of the PostgreSQL server of ``scripts/with-postgres.sh``, and started again on that
database over the same blob folder: QIDO, WADO metadata and the audit trail must answer
as before, the chain must verify, and new rows must get fresh keys (sequences moved).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.admin_db import TargetNotEmptyError, copy_database
from server.db.engine import make_engine, upgrade
from server.services.jobs import JobQueue
from tests.conftest import (
    POSTGRES,
    ROOT,
    RunningArchive,
    fresh_database_url,
    start_archive,
    stop_archive,
)
from tests.server.people import active_practice, add_member, stow
from tests.synth import make_patient, make_study


def test_copy_between_sqlite_files_checks_counts_and_refuses_a_full_target(
        tmp_path: Path) -> None:
    source = make_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    target = make_engine(f"sqlite:///{tmp_path / 'b.sqlite'}")
    try:
        upgrade(source)
        queue = JobQueue(source)
        for n in range(25):
            queue.enqueue("copy", {"n": n}, key=str(n))
        report = copy_database(source, target, batch_size=4, progress=False)
        assert report.rows["jobs"] == 25 and report.rows["accounts"] == 1
        assert JobQueue(target).get(25).payload == {"n": 24}
        with pytest.raises(TargetNotEmptyError, match="jobs"):
            copy_database(source, target, progress=False)
    finally:
        source.dispose()
        target.dispose()


def _answers(site: RunningArchive, headers: dict[str, str], uids: list[str]) -> dict[str, Any]:
    with httpx.Client(base_url=site.url, headers=headers, timeout=30) as http:
        answers: dict[str, Any] = {
            "studies": http.get("/dicom-web/studies", params={"includefield": "all"}).json(),
            "patients": http.get("/api/patients").json()}
        for uid in uids:
            answers[f"series {uid}"] = http.get(f"/dicom-web/studies/{uid}/series").json()
            answers[f"metadata {uid}"] = http.get(f"/dicom-web/studies/{uid}/metadata").json()
    # BulkDataURIs name the server, whose port changes with each start
    return dict(json.loads(json.dumps(answers).replace(site.url, "{{BASE}}")))


def _copy(data_dir: Path, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", "db", "copy", "--to", target,
         "--data-dir", str(data_dir), "--batch-size", "7"],
        capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES, reason="needs a PostgreSQL server: run under "
                    "scripts/with-postgres.sh (sets WORKBENCH_TEST_POSTGRES)")
def test_copy_moves_a_sqlite_archive_to_postgresql(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    sqlite = {"WORKBENCH_DATABASE_URL": f"sqlite:///{data_dir / 'index.sqlite'}"}
    data_dir.mkdir()
    site = start_archive(data_dir, **sqlite)
    try:
        admin = active_practice(site, "admin@copy.example", practice="Copy Clinic")
        referrer = add_member(site, admin.headers, "ref@copy.example", ["referring_physician"])
        uids = []
        for seed in (31, 32):
            datasets = make_study(("CT", "MR"), seed=seed, patient=make_patient(seed, seed=seed))
            assert stow(site, admin.headers, datasets).status_code == 200
            uids.append(str(datasets[0].StudyInstanceUID))
        r = httpx.post(f"{site.url}/api/shares", headers=admin.headers,
                       json={"study_uid": uids[0], "user_email": referrer.email})
        assert r.status_code == 201, r.text
        before = _answers(site, admin.headers, uids)
        before_referrer = _answers(site, referrer.headers, uids)
        audit = httpx.get(f"{site.url}/api/audit", params={"limit": 1000},
                          headers=site.headers).json()
    finally:
        stop_archive(site)
    assert len(before["studies"]) == 2 and len(before_referrer["studies"]) == 1 and audit

    target = fresh_database_url(tmp_path / "copy-target")
    assert target
    run = _copy(data_dir, target)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "instances" in run.stdout and "copied" in run.stdout
    again = _copy(data_dir, target)  # a non-empty target is refused, nothing written
    assert again.returncode == 2 and "not empty" in again.stdout

    site = start_archive(data_dir, WORKBENCH_DATABASE_URL=target)
    try:
        assert _answers(site, admin.headers, uids) == before
        assert _answers(site, referrer.headers, uids) == before_referrer
        newest = max(e["id"] for e in audit)
        after = httpx.get(f"{site.url}/api/audit", params={"limit": 1000},
                          headers=site.headers).json()
        assert [e for e in after if e["id"] <= newest] == audit
        chain = httpx.get(f"{site.url}/api/audit/verify", headers=site.headers).json()
        assert chain["intact"] and chain["rows"] > len(audit)
        # new rows get new keys: the sequences were moved past the copied ones
        third = make_study(("CT",), seed=33, patient=make_patient(33, seed=33))
        assert stow(site, admin.headers, third).status_code == 200
        other = add_member(site, admin.headers, "tech@copy.example", ["technologist"])
        assert other.user_id > referrer.user_id
    finally:
        stop_archive(site)
