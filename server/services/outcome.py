"""What happened to one received instance, with PS3.4 status codes."""

from __future__ import annotations

from dataclasses import dataclass

# Failure reasons (PS3.4 Annex B C-STORE status, used by STOW-RS FailedSOPSequence too).
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111
NOT_AUTHORIZED = 0x0124  # PS3.7 C.4 "Refused: Not Authorized"


@dataclass(frozen=True)
class Outcome:
    """The result for one instance.

    ``failure`` is None on success; otherwise a PS3.4 status code, and ``reason`` says
    in words what was wrong. ``warning`` marks successes worth telling (a duplicate).
    """

    sop_uid: str | None
    sop_class_uid: str | None
    study_uid: str | None = None
    series_uid: str | None = None
    failure: int | None = None
    reason: str = ""
    warning: str = ""
    modality: str = ""

    @property
    def ok(self) -> bool:
        """Whether the instance is stored (now or before)."""
        return self.failure is None
