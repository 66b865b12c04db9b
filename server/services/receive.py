"""Receiving a STOW-RS body: multipart parts become instances being stored.

Framework-free: takes the body as an async iterator of chunks, so the route stays a thin
edge and the same code can serve other multipart uploads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from server.services.ingest import Ingestor, PartBuffer, Pending
from server.services.outcome import CANNOT_UNDERSTAND, Outcome
from server.services.placement import Placement
from workbench.dicomweb.multipart import MultipartParser, PartData, PartEnd, PartStart
from workbench.errors import PayloadTooLargeError


async def receive_instances(
    chunks: AsyncIterator[bytes], boundary: str, ingestor: Ingestor, *,
    max_request_bytes: int, max_instance_bytes: int,
    expected_study: str | None, placement: Placement,
) -> list[Pending | Outcome]:
    """Parse a multipart/related body as it arrives and start storing each part.

    Each ``application/dicom`` part is written to its blob while it arrives and is
    inspected as soon as it is complete, while later parts are still being received.
    Parts of another media type become failures with a reason.

    Returns
    -------
    list of Pending or Outcome
        One entry per part, in order; pass the pending ones to ``Ingestor.finish``.

    Raises
    ------
    InvalidMultipart
        The body is malformed or truncated.
    PayloadTooLargeError
        The body or a part exceeds its limit.
    BaseException
        Whatever reading the body raises (a client disconnect); in every failure case
        all that was written is removed first.
    """
    parser = MultipartParser(boundary, max_part_bytes=max_instance_bytes)
    started: list[Pending | Outcome] = []
    sink: PartBuffer | None = None
    refused: str | None = None
    received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > max_request_bytes:
                raise PayloadTooLargeError(
                    f"request body exceeds the limit of {max_request_bytes} bytes")
            for event in parser.feed(chunk):
                if isinstance(event, PartStart):
                    ctype = (event.headers.content_type or "application/dicom").split(";")[0]
                    refused = None if ctype.strip().lower() == "application/dicom" else ctype
                    sink = PartBuffer(ingestor, placement) if refused is None else None
                elif isinstance(event, PartData):
                    if sink is not None:
                        sink.write(event.data)
                elif isinstance(event, PartEnd):
                    if sink is not None:
                        started.append(sink.finish(expected_study))
                    else:
                        started.append(Outcome(
                            None, None, failure=CANNOT_UNDERSTAND,
                            reason=f"part has Content-Type {refused!r}; only "
                                   "application/dicom is stored"))
                    sink = None
        parser.close()
    except BaseException:
        if sink is not None:
            sink.abandon()
        pending = [p for p in started if isinstance(p, Pending)]
        await asyncio.get_running_loop().run_in_executor(None, ingestor.abandon, pending)
        raise
    return started
