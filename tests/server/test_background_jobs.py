"""Background work on the durable job table, with real archive processes.

- an "instance stored" event committed by a process that is killed before its handler
  ran is handled by the next process over the same index, once;
- several processes over one index run each job once;
- the administrators' job view and re-queue (staff only, audited);
- the daily purge job (one per day for the cluster).

The archives share an index: SQLite in a data directory, or, under
``scripts/with-postgres.sh``, one fresh PostgreSQL database per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update

from server.db.billing import ledger_entries, study_retention
from server.db.engine import make_engine, upgrade, write_transaction
from server.db.jobs import jobs
from server.db.models import studies
from server.services.background import PRUNE, PURGE
from server.services.events import INSTANCE_STORED, job_kind
from server.services.jobs import JobQueue
from tests.conftest import RunningArchive, fresh_database_url, start_archive, stop_archive
from tests.server.billing_fixtures import wait_for
from tests.server.people import Person, active_practice, stow
from tests.synth import make_patient, make_study

SEEDS = count(900)
STORED = job_kind(INSTANCE_STORED)
PATIENT_WAIT_S = 120.0
"""How long a job may take to be handled on a loaded machine (a wait, never asserted)."""


class Cluster:
    """Archive processes started on one data directory and one index."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True)
        self.database = fresh_database_url(data_dir)
        self.engine = make_engine(self.database or f"sqlite:///{data_dir / 'index.sqlite'}")
        self.running: list[RunningArchive] = []

    def start(self, *, prepared: bool = False, **env: str) -> RunningArchive:
        """One more process (``prepared``: the index is migrated and swept already)."""
        if self.database:
            env["WORKBENCH_DATABASE_URL"] = self.database
        if prepared:
            env["WORKBENCH_PREPARED"] = "true"
        archive = start_archive(self.data_dir, **env)
        self.running.append(archive)
        return archive

    def kill(self, archive: RunningArchive) -> None:
        """SIGKILL: no shutdown, no handler runs after this."""
        archive.process.kill()
        archive.process.wait(timeout=30)
        self.running.remove(archive)

    def stop(self, archive: RunningArchive) -> None:
        """A clean stop."""
        stop_archive(archive)
        self.running.remove(archive)

    def jobs(self, kind: str) -> list[Any]:
        """The job rows of `kind`, oldest first."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(jobs).where(jobs.c.kind == kind)
                                     .order_by(jobs.c.pk)))

    def study_charges(self, study: str) -> list[Any]:
        """The ledger's "stored study" entries of `study`."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(ledger_entries).where(
                ledger_entries.c.study_uid == study, ledger_entries.c.kind == "study")))

    def close(self) -> None:
        for archive in list(self.running):
            self.stop(archive)
        self.engine.dispose()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path / "data")
    yield made
    made.close()


def study_datasets() -> list[Any]:
    """A new small CT study."""
    seed = next(SEEDS)
    return make_study(("CT",), seed=seed, patient=make_patient(seed % 5, seed=seed))


def new_study(archive: RunningArchive, person: Person, datasets: list[Any] | None = None
              ) -> str:
    """Store a small CT study; its UID."""
    datasets = datasets or study_datasets()
    r = stow(archive, person.headers, datasets)
    assert r.status_code == 200, r.text
    return str(datasets[0].StudyInstanceUID)


def studies_in(job: Any) -> set[str]:
    """The studies an "instance stored" job is about."""
    import json

    return {str(e["study"]) for e in json.loads(job.payload)["events"]}


def settled(cluster: Cluster, kind: str) -> list[Any] | None:
    """The jobs of `kind` once none is queued or running (None before)."""
    found = cluster.jobs(kind)
    return found if found and all(j.state in ("done", "dead") for j in found) else None


def test_an_event_of_a_killed_process_is_handled_once_by_the_next(cluster: Cluster) -> None:
    first = cluster.start(WORKBENCH_JOB_WORKER="false")  # commits events, never runs them
    person = active_practice(first, "admin@durable.example", practice="Durable clinic")
    datasets = study_datasets()
    study = new_study(first, person, datasets)
    pending = [j for j in cluster.jobs(STORED) if study in studies_in(j)]
    assert [j.state for j in pending] == ["queued"]  # committed with the instances
    assert cluster.study_charges(study) == []
    cluster.kill(first)

    second = cluster.start(prepared=True)
    charges = wait_for(lambda: cluster.study_charges(study), timeout=PATIENT_WAIT_S,
                       what="the study's charge, written by the second process")
    done = wait_for(lambda: [j for j in cluster.jobs(STORED)
                             if study in studies_in(j) and j.state == "done"],
                    timeout=PATIENT_WAIT_S, what="the event job done")
    assert len(charges) == 1
    assert [(j.attempts, j.lease_owner.endswith(f":{second.process.pid}")) for j in done] == [
        (1, True)]
    # stored again (identical instances): no new event, still one charge
    assert stow(second, person.headers, datasets).status_code == 200
    assert len([j for j in cluster.jobs(STORED) if study in studies_in(j)]) == 1
    assert len(cluster.study_charges(study)) == 1


def test_several_processes_run_each_job_once(cluster: Cluster) -> None:
    workers = [cluster.start()]
    workers += [cluster.start(prepared=True) for _ in range(2)]
    person = active_practice(workers[0], "admin@many.example", practice="Many clinic")
    queue = JobQueue(cluster.engine)
    for n in range(24):  # jobs every worker handles, enqueued from outside
        queue.enqueue(PRUNE, key=f"test-{n}")
    uids = [new_study(workers[n % 3], person) for n in range(6)]
    events = wait_for(lambda: settled(cluster, STORED), timeout=PATIENT_WAIT_S,
                      what="every event job handled")
    pruned = wait_for(lambda: settled(cluster, PRUNE), timeout=PATIENT_WAIT_S,
                      what="every prune job handled")
    for job in events + pruned:
        assert (job.state, job.attempts) == ("done", 1), job
    assert {uid for job in events for uid in studies_in(job)} == set(uids)
    for uid in uids:
        assert len(cluster.study_charges(uid)) == 1
    pids = {str(w.process.pid) for w in workers}
    assert {job.lease_owner.rsplit(":", 1)[1] for job in events + pruned} <= pids


def dead_job(cluster: Cluster) -> int:
    """A job of a kind no worker handles, failed on its only attempt: dead."""
    queue = JobQueue(cluster.engine)
    job = queue.enqueue("test: nobody handles this", {"n": 1}, max_attempts=1)
    claimed = queue.claim("test-worker", ("test: nobody handles this",))
    assert claimed is not None and claimed.id == job.id
    assert queue.fail(job.id, "test-worker", "RuntimeError: on purpose") == "dead"
    return job.id


def test_administrators_see_and_requeue_dead_jobs(cluster: Cluster) -> None:
    archive = cluster.start()
    person = active_practice(archive, "admin@jobs.example", practice="Jobs clinic")
    job_id = dead_job(cluster)
    url = f"{archive.url}/api/admin/jobs"
    # a practice's administrator is not the installation's: 403; nobody: 401
    assert httpx.get(url, headers=person.headers).status_code == 403
    assert httpx.post(f"{url}/{job_id}/requeue", headers=person.headers).status_code == 403
    assert httpx.get(url).status_code == 401
    dead = httpx.get(url, params={"state": "dead"}, headers=archive.headers)
    assert dead.status_code == 200, dead.text
    assert [(j["id"], j["last_error"]) for j in dead.json()] == [
        (job_id, "RuntimeError: on purpose")]
    assert httpx.get(url, params={"state": "sleeping"}, headers=archive.headers
                     ).status_code == 422
    again = httpx.post(f"{url}/{job_id}/requeue", headers=archive.headers)
    assert again.status_code == 200, again.text
    assert (again.json()["state"], again.json()["attempts"]) == ("queued", 0)
    queued = httpx.get(url, params={"state": "queued"}, headers=archive.headers).json()
    assert job_id in [j["id"] for j in queued]
    assert httpx.post(f"{url}/{job_id}/requeue", headers=archive.headers).status_code == 409
    assert httpx.post(f"{url}/99999/requeue", headers=archive.headers).status_code == 404
    trail = wait_for(lambda: httpx.get(f"{archive.url}/api/audit", headers=archive.headers,
                                       params={"action": "job-requeue"}).json(),
                     what="the re-queue in the audit trail")
    assert [e["resource"] for e in trail] == [f"job:{job_id}"]
    viewed = httpx.get(f"{archive.url}/api/audit", headers=archive.headers,
                       params={"action": "jobs-view"}).json()
    assert viewed and all(e["outcome"] == "ok" for e in viewed)


def backdate(engine: Engine, study: str, days: int) -> None:
    """Make the study received `days` ago (its storage term ends six months after)."""
    received = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    with write_transaction(engine) as conn:
        conn.execute(update(studies).where(studies.c.study_uid == study)
                     .values(created_at=received))
        conn.execute(update(study_retention).where(study_retention.c.study_uid == study)
                     .values(received_at=received))


def test_the_daily_purge_runs_once_a_day(cluster: Cluster) -> None:
    first = cluster.start(WORKBENCH_PURGE_HOUR="-1")  # no automatic purge yet
    person = active_practice(first, "admin@purge.example", practice="Purging clinic")
    expired, kept = new_study(first, person), new_study(first, person)
    backdate(cluster.engine, expired, 400)
    assert cluster.jobs(PURGE) == []
    cluster.stop(first)

    second = cluster.start(prepared=True, WORKBENCH_PURGE_HOUR="0")  # due since midnight
    done = wait_for(lambda: settled(cluster, PURGE), timeout=PATIENT_WAIT_S,
                    what="the daily purge job")
    today = datetime.now(UTC).date().isoformat()
    assert [(j.idempotency_key, j.state, j.attempts) for j in done] == [(today, "done", 1)]
    with cluster.engine.connect() as conn:
        left = set(conn.execute(select(studies.c.study_uid)).scalars())
        purged = conn.execute(select(study_retention.c.purged_at).where(
            study_retention.c.study_uid == expired)).scalar()
    assert (expired in left, kept in left, purged is not None) == (False, True, True)
    # another process the same day (the only worker now): it schedules the day's jobs
    # before it runs any, finds them there, and purges no second time
    cluster.stop(second)
    third = cluster.start(prepared=True, WORKBENCH_PURGE_HOUR="0")
    later = new_study(third, person)
    wait_for(lambda: cluster.study_charges(later), timeout=PATIENT_WAIT_S,
             what="a job run by the third process")
    assert [j.pk for j in cluster.jobs(PURGE)] == [done[0].pk]
    assert len(cluster.jobs(PRUNE)) == 1


def test_a_run_of_jobs_stops_at_another_kind(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'index.sqlite'}")
    upgrade(engine)
    queue = JobQueue(engine)
    for n, kind in enumerate("aaba"):
        queue.enqueue(kind, {"n": n})
    seen: list[tuple[str, list[int]]] = []

    def handler(kind: str) -> Any:
        return lambda payloads: seen.append((kind, [p["n"] for p in payloads]))

    handlers = {"a": handler("a"), "b": handler("b")}
    while queue.run_batch("w", handlers, limit=10):
        pass
    assert seen == [("a", [0, 1]), ("b", [2]), ("a", [3])]
    assert {(j.state, j.attempts, j.lease_owner) for j in queue.find()} == {("done", 1, "w")}
    engine.dispose()
