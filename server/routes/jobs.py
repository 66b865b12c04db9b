"""The job table for the installation's administrators: what is queued, running or dead.

Staff only (the installation's operators: the job table is shared by every account).
Both routes write an audit event: a job's payload names studies.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from server.deps import IdPath, OffsetQuery, ServicesDep, Staff
from server.services.audit import AuditEvent
from server.services.jobs import Job, JobQueue

router = APIRouter(tags=["Jobs"])

JobState = Literal["queued", "running", "done", "dead"]


class JobOut(BaseModel):
    """One job as the administrators see it."""

    id: int
    kind: str
    key: str
    state: str
    attempts: int
    max_attempts: int
    run_after: str
    worker: str
    lease_expires: str | None
    last_error: str
    payload: dict[str, object]


def _out(job: Job) -> JobOut:
    return JobOut(id=job.id, kind=job.kind, key=job.key, state=job.state,
                  attempts=job.attempts, max_attempts=job.max_attempts,
                  run_after=job.run_after.isoformat(), worker=job.lease_owner,
                  lease_expires=job.lease_expires.isoformat() if job.lease_expires else None,
                  last_error=job.last_error, payload=job.payload)


@router.get("/admin/jobs", response_model=list[JobOut], summary="Background jobs (staff)")
def list_jobs(services: ServicesDep, staff: Staff,
              state: Annotated[JobState | None,
                               Query(description="only jobs in this state")] = None,
              kind: str | None = Query(None, max_length=64, description="only this kind"),
              limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0,
              ) -> list[JobOut]:
    """Jobs of the durable job table, newest first (``state=dead`` for those given up)."""
    found = JobQueue(services.engine).find(state, kind=kind, limit=limit, offset=offset)
    services.audit.record(AuditEvent(
        "jobs-view", staff.label, "ok", resource="jobs", actor_user_pk=staff.user_pk,
        actor_account_pk=staff.account_pk,
        detail=f"state={state or 'any'} kind={kind or 'any'}: {len(found)} jobs"))
    return [_out(job) for job in found]


@router.post("/admin/jobs/{job_id}/requeue", response_model=JobOut,
             summary="Run a dead job again (staff)")
def requeue_job(job_id: IdPath, services: ServicesDep, staff: Staff) -> JobOut:
    """Give a ``dead`` job a fresh set of attempts, due now (409 for any other state)."""
    job = JobQueue(services.engine).requeue(job_id)
    services.audit.record(AuditEvent(
        "job-requeue", staff.label, "ok", resource=f"job:{job_id}",
        actor_user_pk=staff.user_pk, actor_account_pk=staff.account_pk,
        detail=f"{job.kind} {job.key} (last error: {job.last_error[:200]})"), wait=True)
    services.events.notify()  # wake the local worker
    return _out(job)
