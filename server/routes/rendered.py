"""Rendered resources and thumbnails (PS3.18 10.4.1.1.3 / 10.4.1.1.4)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from server.deps import ServicesDep, StudyReader
from server.services import retrieve
from workbench.dicomweb.media import choose_rendered_media_type, parse_accept
from workbench.errors import NotFoundError, QueryError
from workbench.imaging.render import Viewport, Window, render_frame, thumbnail

router = APIRouter(tags=["WADO-RS rendered"])

WindowQ = Query(None, description="center,width[,linear|linear-exact|sigmoid]")
ViewportQ = Query(None, description="vw,vh[,sx,sy,sw,sh] in pixels")
QualityQ = Query(None, ge=1, le=100, description="JPEG quality 1-100")


def _render(request: Request, services: ServicesDep, ref: retrieve.InstanceRef, number: int,
            window: str | None, viewport: str | None, quality: int | None) -> Response:
    media_type = choose_rendered_media_type(parse_accept(request.headers.get("accept")))
    parsed_window = Window.parse(window) if window else None
    parsed_viewport = Viewport.parse(viewport) if viewport else None
    with retrieve.producing(f"a rendering of frame {number}", ref):
        ds, decoded = retrieve.read_for_rendering(services.store, ref, number)
        body = render_frame(
            ds, number, window=parsed_window, viewport=parsed_viewport,
            media_type=media_type, quality=quality or 90, decoded=decoded,
        )
    return Response(body, media_type=media_type,
                    headers={"Cache-Control": "private, max-age=3600"})


def _instance(services: ServicesDep, study: str, series: str | None, sop: str | None
              ) -> retrieve.InstanceRef:
    with services.engine.connect() as conn:
        refs = retrieve.find_instances(conn, study, series, sop)
    imaged = [r for r in refs if r.pixel_offset is not None]
    if not imaged:
        raise NotFoundError(f"study {study} has no image to show")
    return imaged[len(imaged) // 2] if series is not None else imaged[0]


@router.get("/studies/{study}/series/{series}/instances/{sop}/rendered",
            summary="Rendered instance")
def rendered_instance(study: str, series: str, sop: str, request: Request,
                      services: ServicesDep, _u: StudyReader, window: str | None = WindowQ,
                      viewport: str | None = ViewportQ, quality: int | None = QualityQ
                      ) -> Response:
    """The instance (first frame of a multi-frame) as JPEG or PNG, windowed."""
    ref = _instance(services, study, series, sop)
    return _render(request, services, ref, 1, window, viewport, quality)


@router.get("/studies/{study}/series/{series}/instances/{sop}/frames/{number}/rendered",
            summary="Rendered frame")
def rendered_frame(study: str, series: str, sop: str, number: str, request: Request,
                   services: ServicesDep, _u: StudyReader, window: str | None = WindowQ,
                   viewport: str | None = ViewportQ, quality: int | None = QualityQ
                   ) -> Response:
    """One frame (1-based) as JPEG or PNG."""
    if not number.isdigit():
        raise QueryError(f"frame {number!r} is not a frame number (1, 2, ...)")
    ref = _instance(services, study, series, sop)
    return _render(request, services, ref, int(number), window, viewport, quality)


def _thumbnail(request: Request, services: ServicesDep, study: str, series: str | None,
               sop: str | None, viewport: str | None) -> Response:
    media_type = choose_rendered_media_type(parse_accept(request.headers.get("accept")))
    ref = _instance(services, study, series, sop)
    size = 128
    if viewport:
        vp = Viewport.parse(viewport)
        size = max(16, min(1024, max(vp.width, vp.height)))
    with retrieve.producing("a thumbnail", ref):
        body = thumbnail(retrieve.read_dataset(services.store, ref), size=size,
                         media_type=media_type)
    return Response(body, media_type=media_type,
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/studies/{study}/thumbnail", summary="Study thumbnail")
def study_thumbnail(study: str, request: Request, services: ServicesDep, _u: StudyReader,
                    viewport: str | None = ViewportQ) -> Response:
    """A small image representing the study (its first imaged instance)."""
    return _thumbnail(request, services, study, None, None, viewport)


@router.get("/studies/{study}/series/{series}/thumbnail", summary="Series thumbnail")
def series_thumbnail(study: str, series: str, request: Request, services: ServicesDep,
                     _u: StudyReader, viewport: str | None = ViewportQ) -> Response:
    """A small image of the series' middle instance."""
    return _thumbnail(request, services, study, series, None, viewport)


@router.get("/studies/{study}/series/{series}/instances/{sop}/thumbnail",
            summary="Instance thumbnail")
def instance_thumbnail(study: str, series: str, sop: str, request: Request,
                       services: ServicesDep, _u: StudyReader, viewport: str | None = ViewportQ
                       ) -> Response:
    """A small image of the instance (middle frame of a multi-frame)."""
    return _thumbnail(request, services, study, series, sop, viewport)
