"""Deletion of studies, series and instances (administrators of the owning account)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from server.deps import ServicesDep, StudyDeleter
from server.services.delete import delete_objects

router = APIRouter(tags=["Delete"])


def _deleted(count: int) -> JSONResponse:
    return JSONResponse({"deleted_instances": count})


@router.delete("/studies/{study}", summary="Delete a study")
def delete_study(study: str, services: ServicesDep, _admin: StudyDeleter) -> JSONResponse:
    """Remove a study and all its files."""
    return _deleted(delete_objects(services.engine, services.store, services.events, study,
                                   media_store=services.media_store))


@router.delete("/studies/{study}/series/{series}", summary="Delete a series")
def delete_series(study: str, series: str, services: ServicesDep, _admin: StudyDeleter
                  ) -> JSONResponse:
    """Remove a series."""
    return _deleted(delete_objects(services.engine, services.store, services.events, study,
                                   series, media_store=services.media_store))


@router.delete("/studies/{study}/series/{series}/instances/{sop}", summary="Delete an instance")
def delete_instance(study: str, series: str, sop: str, services: ServicesDep, _admin: StudyDeleter
                    ) -> JSONResponse:
    """Remove one instance."""
    return _deleted(delete_objects(services.engine, services.store, services.events, study,
                                   series, sop, media_store=services.media_store))
