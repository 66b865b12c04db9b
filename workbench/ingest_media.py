"""Non-DICOM files in ``workbench ingest``: sent to the archive's media API.

With ``--study UID`` or ``--patient ID``, files that are not DICOM are uploaded to
``POST /api/media`` of the archive (the DICOMweb root's server) instead of being set
aside; the archive types each from its content and refuses dangerous ones with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from workbench.errors import PermissionDeniedError
from workbench.ingest_sources import Source


@dataclass(frozen=True)
class MediaTarget:
    """Where non-DICOM files go, and how they are described."""

    study_uid: str | None = None
    patient_id: str | None = None
    issuer: str = ""
    upload_type: str = "other"
    store_as_dicom: bool = False


def api_root(dicomweb_url: str) -> str:
    """The archive's root URL from its DICOMweb root (``.../dicom-web`` -> ``...``)."""
    url = dicomweb_url.rstrip("/")
    return url[: -len("/dicom-web")] if url.endswith("/dicom-web") else url


def send_media(source: Source, dicomweb_url: str, token: str | None, target: MediaTarget
               ) -> tuple[bool, str]:
    """Upload one file; ``(stored, reason or media type)``.

    Raises
    ------
    PermissionDeniedError
        The archive refuses the token (the run stops, as for DICOM).
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    form = {"upload_type": target.upload_type, "study_uid": target.study_uid or "",
            "patient_id": target.patient_id or "", "issuer": target.issuer,
            "store_as_dicom": "true" if target.store_as_dicom else "false"}
    name = source.member or source.path.name
    response = httpx.post(f"{api_root(dicomweb_url)}/api/media", headers=headers, data=form,
                          files=[("files", (name.rsplit("/", 1)[-1], source.read()))],
                          timeout=300)
    if response.status_code in (401, 403):
        raise PermissionDeniedError(response.json().get("detail", response.text))
    try:
        body = response.json()
    except ValueError:
        return False, f"the archive answered {response.status_code}"
    if response.status_code == 201 and body.get("stored"):
        return True, str(body["stored"][0].get("media_type", ""))
    failed = body.get("failed") or [{"reason": body.get("detail", response.text)}]
    return False, str(failed[0]["reason"])
