"""The durable job queue: idempotent enqueue, exclusive claims, leases, retries, dead jobs.

Each test runs on a migrated SQLite index and, under ``scripts/with-postgres.sh``, on a
fresh PostgreSQL database too. Concurrency is real: threads of one process and separate
processes claim from the same table; every run appends ``<job id> <worker>`` to a file
opened with O_APPEND, so a job run twice shows up as two lines.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from server.db.engine import make_engine, upgrade
from server.services.jobs import JobQueue
from tests.conftest import POSTGRES, fresh_database_url

JOBS = 40


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a migrated, empty index."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    else:
        if not POSTGRES:
            pytest.skip("needs a PostgreSQL server: run under scripts/with-postgres.sh")
        url = str(fresh_database_url(tmp_path / "jobs"))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    engine = make_engine(database)
    yield engine
    engine.dispose()


class FakeClock:
    """A naive-UTC clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _record(log: Path) -> Any:
    def handler(payload: dict[str, Any]) -> None:
        line = f"{payload['n']} {payload['worker']}\n".encode()
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    return handler


def _drain(url: str, worker: str, log: str) -> None:
    """Run jobs until none is due (a worker process's body)."""
    engine = make_engine(url)
    queue = JobQueue(engine)
    record = _record(Path(log))
    try:
        while queue.run_one(worker, {"record": lambda p: record({**p, "worker": worker})}):
            pass
    finally:
        engine.dispose()


def _ran(log: Path) -> Counter[int]:
    return Counter(int(line.split()[0]) for line in log.read_text().splitlines())


def test_enqueue_is_idempotent_per_kind_and_key(engine: Engine) -> None:
    queue = JobQueue(engine)
    first = queue.enqueue("thumbnail", {"sop": "1.2.3"}, key="1.2.3")
    again = queue.enqueue("thumbnail", {"sop": "other"}, key="1.2.3")
    other_kind = queue.enqueue("forward", {"sop": "1.2.3"}, key="1.2.3")
    assert again == first and again.payload == {"sop": "1.2.3"}
    assert other_kind.id != first.id
    assert queue.enqueue("x").id != queue.enqueue("x").id  # no key: always a new job


def test_threads_claiming_together_run_each_job_once(engine: Engine, tmp_path: Path) -> None:
    queue, log = JobQueue(engine), tmp_path / "ran.log"
    ids = {queue.enqueue("record", {"n": n}, key=str(n)).id for n in range(JOBS)}
    record = _record(log)

    def worker(name: str) -> None:
        while queue.run_one(name, {"record": lambda p: record({**p, "worker": name})}):
            pass

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert _ran(log) == Counter(range(JOBS))  # every job once, none twice
    assert {queue.get(i).state for i in ids} == {"done"}
    assert len({line.split()[1] for line in log.read_text().splitlines()}) > 1


def test_processes_claiming_together_run_each_job_once(database: str, engine: Engine,
                                                       tmp_path: Path) -> None:
    queue, log = JobQueue(engine), tmp_path / "ran.log"
    for n in range(JOBS):
        queue.enqueue("record", {"n": n}, key=str(n))
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_drain, args=(database, f"p{i}", str(log)))
               for i in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert _ran(log) == Counter(range(JOBS))


def _claim_and_die(url: str) -> None:
    """Claim a job and vanish without completing it (a killed worker)."""
    engine = make_engine(url)
    job = JobQueue(engine, lease=timedelta(seconds=1)).claim("doomed")
    assert job is not None
    os._exit(0)


def test_a_job_whose_worker_died_runs_again_after_its_lease(database: str, engine: Engine,
                                                            tmp_path: Path) -> None:
    queue = JobQueue(engine, lease=timedelta(seconds=1))
    job = queue.enqueue("record", {"n": 7}, key="7")
    process = multiprocessing.get_context("spawn").Process(target=_claim_and_die,
                                                           args=(database,))
    process.start()
    process.join(timeout=60)
    held = queue.get(job.id)
    assert (held.state, held.lease_owner, held.attempts) == ("running", "doomed", 1)
    assert queue.claim("rescuer") is None  # the lease still runs
    log = tmp_path / "ran.log"
    record = _record(log)
    deadline = datetime.now() + timedelta(seconds=10)
    while queue.run_one("rescuer", {"record": lambda p: record({**p, "worker": "r"})}) is None:
        assert datetime.now() < deadline
    assert _ran(log) == Counter([7])
    done = queue.get(job.id)
    assert (done.state, done.attempts) == ("done", 2)


def test_lost_lease_failures_backoff_and_dead_jobs(engine: Engine) -> None:
    clock = FakeClock()
    queue = JobQueue(engine, lease=timedelta(seconds=30), backoff=timedelta(seconds=10),
                     clock=clock)
    job = queue.enqueue("flaky", {}, key="f", max_attempts=3)
    assert queue.claim("a") is not None
    assert queue.heartbeat(job.id, "a")
    clock.advance(31)  # a's lease runs out: b takes the job, a can no longer finish it
    assert queue.claim("b") is not None
    assert not queue.heartbeat(job.id, "a") and not queue.complete(job.id, "a")
    assert queue.fail(job.id, "a", "late") is None
    assert queue.fail(job.id, "b", "boom") == "queued"  # attempt 2 of 3: retry in 20 s
    assert queue.get(job.id).run_after == clock.now + timedelta(seconds=20)
    clock.advance(19)
    assert queue.claim("c") is None
    clock.advance(1)
    assert queue.claim("c") is not None
    assert queue.fail(job.id, "c", "boom again") == "dead"  # third attempt was the last
    clock.advance(3600)
    assert queue.claim("d") is None
    dead = queue.get(job.id)
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 3, "boom again")
    # a worker that dies on the last attempt: the job is dead once the lease expires
    last = queue.enqueue("flaky", {}, key="g", max_attempts=1)
    assert queue.claim("e") is not None
    clock.advance(31)
    assert queue.claim("f") is None
    assert queue.get(last.id).state == "dead"


def test_run_one_fails_a_raising_handler_and_keeps_the_error(engine: Engine) -> None:
    queue = JobQueue(engine, backoff=timedelta(0))
    job = queue.enqueue("bad", {"x": 1}, max_attempts=2)

    def bad(_payload: dict[str, Any]) -> None:
        raise ValueError("no such study")

    claimed = queue.run_one("w", {"bad": bad})
    assert claimed is not None and (claimed.id, claimed.attempts) == (job.id, 1)
    after = queue.get(job.id)
    assert after.state == "queued" and after.last_error == "ValueError: no such study"
    assert queue.run_one("w", {"bad": bad}) is not None
    assert queue.get(job.id).state == "dead"
    assert queue.run_one("w", {"other": bad}) is None


def test_an_event_emitted_with_a_transaction_commits_or_rolls_back_with_it(
        engine: Engine) -> None:
    """``EventBus.emit_with``: on a durable bus the event is a job written in the caller's
    transaction (no window between the rows and their event), the worker woken on commit;
    on a memory bus it is queued only when the transaction commits."""
    from server.db.engine import write_transaction
    from server.services.events import EventBus, job_kind

    queue = JobQueue(engine)
    bus = EventBus()
    bus.make_durable(queue)
    bus.subscribe("report created", lambda payload: None)
    woken: list[int] = []
    bus.on_enqueued(lambda: woken.append(1))
    with pytest.raises(RuntimeError, match="rolled back"):
        with write_transaction(engine) as conn:
            bus.emit_with(conn, "report created", {"report": "lost"})
            raise RuntimeError("rolled back")
    assert queue.find(kind=job_kind("report created")) == [] and woken == []
    with write_transaction(engine) as conn:
        bus.emit_with(conn, "report created", {"report": "kept"})
        assert woken == []                      # not before the commit
    [job] = queue.find(kind=job_kind("report created"))
    assert job.payload == {"events": [{"report": "kept"}]} and woken == [1]

    seen: list[dict[str, Any]] = []
    memory = EventBus()
    memory.subscribe("report created", seen.append)
    with pytest.raises(RuntimeError):
        with write_transaction(engine) as conn:
            memory.emit_with(conn, "report created", {"report": "lost"})
            raise RuntimeError("rolled back")
    with write_transaction(engine) as conn:
        memory.emit_with(conn, "report created", {"report": "kept"})
    memory.close()                              # runs what is queued
    assert seen == [{"report": "kept"}]
