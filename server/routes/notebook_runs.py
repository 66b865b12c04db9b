"""Administrators run the billing and retention notebooks from the app and download results.

``POST /api/notebook-runs`` starts papermill on a background thread with a short-lived
token of the requesting administrator (so the notebook sees exactly what that person
may see: their own account), writing into ``<data_dir>/notebook-runs/<account>/<run>/``.
Each run keeps its state in ``run.json`` there, so every server process lists it.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import insert, update

from server.auth.permissions import Principal
from server.auth.tokens import bump_generation, hash_token, new_secret, now_utc
from server.db.accounts import api_tokens
from server.db.engine import write_transaction
from server.deps import Services, ServicesDep, public_base
from server.routes.billing import Biller
from workbench.errors import NotFoundError

router = APIRouter(tags=["Billing"])
NOTEBOOKS = {"billing": "Monthly billing report and invoices",
             "retention": "Retention report: what expires, what is held, storage"}
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_FILE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
MEDIA_TYPES = {".pdf": "application/pdf", ".html": "text/html", ".json": "application/json",
               ".ipynb": "application/x-ipynb+json", ".png": "image/png"}


class RunRequest(BaseModel):
    """Which notebook, with which parameters."""

    notebook: Literal["billing", "retention"]
    period: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                               description="billing month (default: the last one)")
    horizon_days: int = Field(default=30, ge=1, le=3650, description="retention horizon")


class Run(BaseModel):
    """A notebook run and the files it wrote."""

    id: str
    notebook: str
    title: str
    status: Literal["running", "done", "failed"]
    started_at: str
    finished_at: str | None = None
    error: str = ""
    files: list[str] = []


def _runs_dir(services: Services, account_pk: int) -> Path:
    return services.settings.data_dir / "notebook-runs" / str(account_pk)


def _save(folder: Path, run: Run) -> None:
    tmp = folder / "run.json.tmp"
    tmp.write_text(run.model_dump_json())
    tmp.replace(folder / "run.json")


def _run_token(services: Services, principal: Principal) -> tuple[str, int]:
    """A one-hour token of the administrator for the notebook (revoked when it ends)."""
    secret = new_secret()
    with write_transaction(services.engine) as conn:
        pk = conn.execute(insert(api_tokens).values(
            user_pk=principal.user_pk, name="notebook run", token_sha256=hash_token(secret),
            scopes="read admin", created_at=now_utc(),
            expires_at=now_utc() + timedelta(hours=1))).inserted_primary_key[0]  # type: ignore[index]
    return secret, int(pk)


def _execute(services: Services, folder: Path, run: Run, parameters: dict[str, Any],
             token_pk: int) -> None:
    from workbench.statements import run_notebook

    try:
        run_notebook(run.notebook, folder, parameters)
        run.status = "done"
    except Exception as exc:  # the administrator reads why in the list
        run.status, run.error = "failed", f"{type(exc).__name__}: {str(exc)[:500]}"
    finally:
        with write_transaction(services.engine) as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.pk == token_pk)
                         .values(revoked_at=now_utc()))
            bump_generation(conn)
        run.finished_at = now_utc().isoformat() + "Z"
        run.files = sorted(p.name for p in folder.iterdir()
                           if p.is_file() and p.name != "run.json" and p.suffix in MEDIA_TYPES)
        _save(folder, run)


@router.post("/notebook-runs", response_model=Run, status_code=202,
             summary="Run the billing or retention notebook for my account")
def start_run(form: RunRequest, request: Request, services: ServicesDep, principal: Biller
              ) -> Run:
    """Start the notebook; poll ``GET /api/notebook-runs`` until it is done."""
    run = Run(id=uuid.uuid4().hex, notebook=form.notebook, title=NOTEBOOKS[form.notebook],
              status="running", started_at=now_utc().isoformat() + "Z")
    folder = _runs_dir(services, principal.account_pk) / run.id
    folder.mkdir(parents=True)
    _save(folder, run)
    token, token_pk = _run_token(services, principal)
    parameters: dict[str, Any] = {"archive_url": public_base(request), "token": token,
                                  "all_accounts": False}
    if form.notebook == "billing":
        parameters.update(period=form.period or "", account_id=principal.account_pk)
    else:
        parameters.update(as_of="", horizon_days=form.horizon_days, dry_run=True)
    threading.Thread(target=_execute, args=(services, folder, run.model_copy(), parameters,
                                            token_pk), name="notebook-run", daemon=True).start()
    return run


@router.get("/notebook-runs", response_model=list[Run], summary="My account's notebook runs")
def list_runs(services: ServicesDep, principal: Biller) -> list[Run]:
    """Newest first, with their status and files."""
    root = _runs_dir(services, principal.account_pk)
    runs = []
    for state in root.glob("*/run.json") if root.exists() else []:
        try:
            runs.append(Run.model_validate(json.loads(state.read_text())))
        except (OSError, ValueError):
            continue
    return sorted(runs, key=lambda r: r.started_at, reverse=True)


@router.get("/notebook-runs/{run_id}/files/{name}", summary="Download a file of a run")
def run_file(run_id: str, name: str, services: ServicesDep, principal: Biller
             ) -> FileResponse:
    """An invoice PDF, the HTML report, the executed notebook or the JSON sidecar."""
    if not _RUN_ID.match(run_id) or not _FILE.match(name) or name == "run.json":
        raise NotFoundError(f"no file {name!r} in run {run_id!r}")
    path = _runs_dir(services, principal.account_pk) / run_id / name
    if not path.is_file():
        raise NotFoundError(f"no file {name!r} in run {run_id!r}")
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    inline = path.suffix in (".pdf", ".png")
    return FileResponse(path, media_type=media_type, filename=name,
                        content_disposition_type="inline" if inline else "attachment",
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "sandbox"})
