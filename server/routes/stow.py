"""STOW-RS (PS3.18 10.5): store instances sent as multipart/related application/dicom.

The body is parsed as it streams in (``services/receive.py``): each part is written and
inspected while later parts still arrive; the batch is committed once at the end and
acknowledged only when durable (``services/ingest.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from server.auth.permissions import Principal
from server.deps import ServicesDep, Storer, dicomweb_base
from server.services.ingest import Pending
from server.services.outcome import Outcome
from server.services.placement import Placement
from server.services.receive import receive_instances
from workbench.dicomweb.media import parse_content_type
from workbench.dicomweb.multipart import (
    boundary_from_content_type,
)
from workbench.errors import PayloadTooLargeError, PermissionDeniedError, WorkbenchError

router = APIRouter(tags=["STOW-RS"])

DICOM_JSON = "application/dicom+json"


def _failure_item(outcome: Outcome) -> dict[str, Any]:
    item: dict[str, Any] = {
        "00081197": {"vr": "US", "Value": [outcome.failure]},
        "00000902": {"vr": "LO", "Value": [outcome.reason]},
    }
    if outcome.sop_class_uid:
        item["00081150"] = {"vr": "UI", "Value": [outcome.sop_class_uid]}
    if outcome.sop_uid:
        item["00081155"] = {"vr": "UI", "Value": [outcome.sop_uid]}
    return dict(sorted(item.items()))


def _response(outcomes: list[Outcome], base: str) -> JSONResponse:
    referenced = []
    failed = []
    studies = {o.study_uid for o in outcomes if o.ok}
    for o in outcomes:
        if o.ok:
            url = f"{base}/studies/{o.study_uid}/series/{o.series_uid}/instances/{o.sop_uid}"
            referenced.append({
                "00081150": {"vr": "UI", "Value": [o.sop_class_uid]},
                "00081155": {"vr": "UI", "Value": [o.sop_uid]},
                "00081190": {"vr": "UR", "Value": [url]},
            })
        else:
            failed.append(_failure_item(o))
    body: dict[str, Any] = {}
    if len(studies) == 1:
        body["00081190"] = {"vr": "UR", "Value": [f"{base}/studies/{studies.pop()}"]}
    if failed:
        body["00081198"] = {"vr": "SQ", "Value": failed}
    if referenced:
        body["00081199"] = {"vr": "SQ", "Value": referenced}
    if not failed:
        status = 200
    elif referenced:
        status = 202
    else:
        status = 409
    headers = {}
    if failed:
        reasons = "; ".join(sorted({o.reason for o in outcomes if not o.ok}))[:900]
        headers["Warning"] = f'299 workbench "{reasons.replace(chr(34), chr(39))}"'
    return JSONResponse(body, status_code=status, media_type=DICOM_JSON, headers=headers)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


TEAM_HEADER = "x-workbench-team"


def placement_for(principal: Principal, team: str | None) -> Placement:
    """Where the caller's instances go: its account; shared with a team it sends to.

    An upload key of a source bound to a team shares with that team; a user names a team
    it is a sender of in ``X-Workbench-Team``.
    """
    team_pk = principal.source_team_pk
    if team is not None:
        if not team.isdigit() or int(team) not in principal.sender_teams:
            raise PermissionDeniedError(f"you are not a sender of team {team!r} "
                                        f"({TEAM_HEADER})")
        team_pk = int(team)
    return Placement(principal.account_pk, team_pk, principal)


async def _store(request: Request, services: Any, principal: Principal, study: str | None
                 ) -> JSONResponse:
    placement = placement_for(principal, request.headers.get(TEAM_HEADER))
    content_type = request.headers.get("content-type", "")
    media_type, params = parse_content_type(content_type) if content_type else ("", {})
    if media_type != "multipart/related":
        return _error(415, f"STOW-RS needs Content-Type multipart/related; got {content_type!r}")
    part_type = params.get("type", "application/dicom").lower()
    if part_type != "application/dicom":
        return _error(
            415,
            f"only multipart/related; type=\"application/dicom\" is stored; got type={part_type!r}",
        )
    try:
        boundary = boundary_from_content_type(content_type)
    except (WorkbenchError, ValueError) as exc:
        return _error(400, str(exc))
    settings = services.settings
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > settings.max_request_bytes:
        return _error(413, f"request body of {length} bytes exceeds the limit of "
                           f"{settings.max_request_bytes} bytes")
    ingestor = services.ingestor
    try:
        started = await receive_instances(
            request.stream(), boundary, ingestor,
            max_request_bytes=settings.max_request_bytes,
            max_instance_bytes=settings.max_instance_bytes,
            expected_study=study, placement=placement)
    except ClientDisconnect:
        return _error(400, "the client disconnected before the request body was complete")
    except PayloadTooLargeError as exc:
        return _error(413, str(exc))
    except (WorkbenchError, ValueError) as exc:
        return _error(400, f"malformed multipart body: {exc}")
    if not started:
        return _error(400, "the multipart body holds no parts")
    pending = [p for p in started if isinstance(p, Pending)]
    finished = iter(await asyncio.get_running_loop().run_in_executor(
        None, ingestor.finish, pending))
    outcomes = [next(finished) if isinstance(p, Pending) else p for p in started]
    return _response(outcomes, dicomweb_base(request))


@router.post("/studies", summary="Store instances (STOW-RS)")
async def store_instances(request: Request, services: ServicesDep, principal: Storer
                          ) -> JSONResponse:
    """Store the DICOM instances of a multipart/related request."""
    return await _store(request, services, principal, None)


@router.post("/studies/{study}", summary="Store instances of one study (STOW-RS)")
async def store_study_instances(study: str, request: Request, services: ServicesDep,
                                principal: Storer) -> JSONResponse:
    """Store instances that must all belong to ``study``."""
    return await _store(request, services, principal, study)
