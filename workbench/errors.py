"""The exceptions workbench raises.

Domain code raises these (or ``ValueError`` naming the DICOM attribute); only
``server/errors.py`` maps them to HTTP and DICOM status codes.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error raised on purpose by workbench."""


class InvalidDicomError(WorkbenchError):
    """A file or dataset is not usable DICOM; the message says what is wrong.

    Parameters
    ----------
    message
        What is wrong, in words.
    sop_uid, sop_class_uid
        The instance's identity when the header was readable, so that a STOW-RS or
        C-STORE failure can name the instance.
    """

    def __init__(self, message: str, *, sop_uid: str | None = None,
                 sop_class_uid: str | None = None) -> None:
        super().__init__(message)
        self.sop_uid = sop_uid
        self.sop_class_uid = sop_class_uid


class MissingAttributeError(InvalidDicomError):
    """A required attribute is absent or empty.

    Parameters
    ----------
    keyword
        The DICOM keyword of the missing attribute, e.g. ``"SOPInstanceUID"``.
    """

    def __init__(self, keyword: str) -> None:
        super().__init__(f"required attribute {keyword} is missing or empty")
        self.keyword = keyword


class UnsupportedTransferSyntaxError(WorkbenchError):
    """Pixel data in a transfer syntax that cannot be decoded or transcoded here."""


class QueryError(WorkbenchError, ValueError):
    """A query parameter (QIDO-RS or API) is malformed; the message names it."""


class NotFoundError(WorkbenchError):
    """The requested study, series, instance, frame or resource does not exist."""


class ConflictError(WorkbenchError):
    """The request conflicts with what is stored (e.g. same UID, different bytes)."""


class NotAcceptableError(WorkbenchError):
    """None of the media types the client accepts can be produced."""


class PermissionDeniedError(WorkbenchError):
    """The caller is known but may not do this."""


class PayloadTooLargeError(WorkbenchError):
    """A request body, part or header exceeds a configured limit."""
