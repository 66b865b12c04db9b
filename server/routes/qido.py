"""QIDO-RS (PS3.18 10.6): search for studies, series and instances."""

from __future__ import annotations

import json
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import Response

from server.auth.permissions import Principal
from server.db.qido import Scope, run_search
from server.db.visibility import visible_studies
from server.deps import Reader, ServicesDep, dicomweb_base
from workbench.dicomweb.query import QueryLevel, parse_qido

router = APIRouter(tags=["QIDO-RS"])
DICOM_JSON = "application/dicom+json"


def _search(request: Request, services: ServicesDep, principal: Principal, level: QueryLevel,
            scope: Scope) -> Response:
    scope = replace(scope, visible=visible_studies(principal))
    query = parse_qido(request.query_params.multi_items(), level,
                       max_limit=services.settings.qido_max_limit)
    if query.limit is None:
        query = replace(query, limit=services.settings.qido_max_limit)
    with services.engine.connect() as conn:
        results = run_search(conn, query, scope, dicomweb_base(request))
    headers = {}
    if query.ignored:
        names = ", ".join(query.ignored)
        headers["Warning"] = f'299 workbench "unsupported query keys were ignored: {names}"'
    body = json.dumps(results, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, media_type=DICOM_JSON, headers=headers)


@router.get("/studies", summary="Search for studies")
def search_for_studies(request: Request, services: ServicesDep, principal: Reader) -> Response:
    """Studies matching the query parameters (DICOM JSON)."""
    return _search(request, services, principal, QueryLevel.STUDY, Scope())


@router.get("/series", summary="Search for series")
def search_for_series(request: Request, services: ServicesDep, principal: Reader) -> Response:
    """Series of all studies matching the query."""
    return _search(request, services, principal, QueryLevel.SERIES, Scope())


@router.get("/studies/{study}/series", summary="Search for series of a study")
def search_for_study_series(study: str, request: Request, services: ServicesDep, principal: Reader
                            ) -> Response:
    """Series of one study matching the query."""
    return _search(request, services, principal, QueryLevel.SERIES, Scope(study_uid=study))


@router.get("/instances", summary="Search for instances")
def search_for_instances(request: Request, services: ServicesDep, principal: Reader) -> Response:
    """Instances of all studies matching the query."""
    return _search(request, services, principal, QueryLevel.INSTANCE, Scope())


@router.get("/studies/{study}/instances", summary="Search for instances of a study")
def search_for_study_instances(study: str, request: Request, services: ServicesDep,
                               principal: Reader) -> Response:
    """Instances of one study matching the query."""
    return _search(request, services, principal, QueryLevel.INSTANCE, Scope(study_uid=study))


@router.get("/studies/{study}/series/{series}/instances",
            summary="Search for instances of a series")
def search_for_series_instances(study: str, series: str, request: Request,
                                services: ServicesDep, principal: Reader) -> Response:
    """Instances of one series matching the query."""
    return _search(request, services, principal, QueryLevel.INSTANCE,
                   Scope(study_uid=study, series_uid=series))
