"""Annotations and measurements of a study: list, create, change, delete, export as SR.

Thin edge over ``server/services/annotations.py`` (storage, permissions) and
``server/services/annotation_sr.py`` (DICOM SR TID 1500); ``docs/measurements.md``
describes the JSON. A study the caller does not see answers 404, its annotations too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from server.auth.permissions import Principal
from server.deps import IdField, IdPath, ServicesDep, StudyReader, requires, study_reader
from server.services import annotation_sr
from server.services import annotations as core
from server.services.annotation_values import AnnotationIn

router = APIRouter(tags=["annotations"])
Annotator = Annotated[Principal, Depends(requires(core.ANNOTATE))]


async def study_annotator(study: str, request: Request, principal: Annotator,
                          services: ServicesDep) -> Principal:
    """A caller who may annotate and sees `study` (403, then 404 as if it did not exist)."""
    return await study_reader(study, request, principal, services)


StudyAnnotator = Annotated[Principal, Depends(study_annotator)]


class SrExport(BaseModel):
    """Which annotations to export (all of the study's measurements when omitted)."""

    annotation_ids: list[IdField] | None = Field(None, max_length=10_000)


@router.get("/studies/{study}/annotations", summary="Annotations of a study")
def list_annotations(
    study: str, services: ServicesDep, me: StudyReader,
    include: Literal["sr"] | None = Query(
        None, description="`sr`: also the measurements of TID 1500 SR documents stored in "
                          "the study (read-only, origin `sr`)"),
) -> list[dict[str, Any]]:
    """Stored annotations, oldest first, each measured by the archive (see the docs)."""
    found = core.study_annotations(services, me, study)
    if include == "sr":
        found += annotation_sr.study_reports(services, study)
    return found


@router.post("/studies/{study}/annotations", status_code=201, summary="Add an annotation")
async def create_annotation(study: str, body: AnnotationIn, services: ServicesDep,
                            me: StudyAnnotator) -> dict[str, Any]:
    """Measure the drawn points on the referenced image and store the annotation."""
    return await run_in_threadpool(core.create, services, me, study, body)


@router.put("/studies/{study}/annotations/{annotation_id}", summary="Change an annotation")
async def update_annotation(study: str, annotation_id: IdPath, body: AnnotationIn,
                            services: ServicesDep, me: StudyReader) -> dict[str, Any]:
    """Replace points, label, image or calibration (author or account administrator)."""
    return await run_in_threadpool(core.change, services, me, study, annotation_id, body)


@router.delete("/studies/{study}/annotations/{annotation_id}", status_code=204,
               summary="Delete an annotation")
def delete_annotation(study: str, annotation_id: IdPath, services: ServicesDep,
                      me: StudyReader) -> Response:
    """Delete the annotation (its author or an administrator of the study's account)."""
    core.remove(services, me, study, annotation_id)
    return Response(status_code=204)


@router.post("/studies/{study}/annotations/sr", status_code=201,
             summary="Store the annotations as DICOM SR")
async def export_sr(study: str, services: ServicesDep, me: StudyAnnotator,
                    body: SrExport | None = None) -> dict[str, Any]:
    """Store the measurements as TID 1500 measurement reports (one per author) in the study."""
    ids = body.annotation_ids if body is not None else None
    return await run_in_threadpool(annotation_sr.export, services, me, study, ids)
