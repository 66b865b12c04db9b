"""The one place that maps domain errors to HTTP status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from workbench.errors import (
    ConflictError,
    InvalidDicomError,
    NotAcceptableError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueryError,
    UnsupportedTransferSyntaxError,
    WorkbenchError,
)

STATUS: tuple[tuple[type[WorkbenchError], int], ...] = (
    (NotFoundError, 404),
    (QueryError, 400),
    (InvalidDicomError, 400),
    (NotAcceptableError, 406),
    (UnsupportedTransferSyntaxError, 406),
    (PermissionDeniedError, 403),
    (PayloadTooLargeError, 413),
    (ConflictError, 409),
)


def status_for(exc: WorkbenchError) -> int:
    """HTTP status of a domain error (500 for an unmapped one)."""
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 500


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkbenchError)
    return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _unstorable(_request: Request, exc: Exception) -> JSONResponse:
    # e.g. a NUL character in text, or a number beyond the column's range, on PostgreSQL;
    # the value itself is not echoed (it may be patient data)
    cause = type(getattr(exc, "orig", exc)).__name__
    return JSONResponse({"detail": f"a value in the request cannot be stored ({cause}): "
                                   "text must not contain NUL characters and numbers must "
                                   "fit 32-bit integers"}, status_code=422)


def install(app: FastAPI) -> None:
    """Register the domain error handlers on ``app``.

    ``ValueError`` from the domain names the value that was wrong: 422.
    """
    app.add_exception_handler(WorkbenchError, _handle)
    app.add_exception_handler(ValueError, _invalid)
    app.add_exception_handler(DataError, _unstorable)
