"""The archive's report API (``/api/...`` JSON over HTTP) as the report form uses it.

:class:`ReportApi` is a thin client of the routes in ``docs/reports.md``: templates,
the study's reports, saving, marking preliminary, signing, addenda, verification, the
PDF, the study's measurements and key images, and dictation. It carries either the
reader's browser session (cookie, plus the CSRF token for changes: the reading app) or
an API / Hub token (notebooks). Errors raise the :mod:`workbench.errors` type of the
HTTP status with the archive's message, as :class:`~workbench.dicomweb.client.
HttpArchiveClient` does. Every call blocks: on the archive's own event loop (the
reading app) call it from a worker thread.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from workbench.dicomweb.client import raise_for_response
from workbench.dicomweb.client_base import ArchiveUnavailableError
from workbench.reports.templates import Template, load_template

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "ReportApi"]

CSRF_COOKIE = "wb_csrf"
"""The cookie holding a browser session's CSRF token."""
CSRF_HEADER = "X-CSRF-Token"
"""The header a cookie session echoes the CSRF token in, on every change."""


class ReportApi:
    """Report routes of one archive, as one user.

    Parameters
    ----------
    url
        The archive's root, e.g. ``"http://127.0.0.1:8042"`` (the API is at ``url/api``).
    token
        An API or Hub token (``Authorization: Bearer``); or None with a `client` that
        holds a session cookie.
    csrf
        The session's CSRF token (the ``wb_csrf`` cookie), sent with every change.
    client
        An ``httpx.Client`` to use and not close (the reading app's, with the cookie).
    timeout
        Seconds to wait for the archive (signing stores the SR and PDF first).
    """

    def __init__(self, url: str, *, token: str | None = None, csrf: str | None = None,
                 client: httpx.Client | None = None, timeout: float = 120) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._csrf = {CSRF_HEADER: csrf} if csrf else {}
        self._owns_client = client is None
        self._http = client if client is not None else httpx.Client(timeout=timeout)
        self._templates: dict[tuple[str, int | None], Template] = {}

    def close(self) -> None:
        """Close the HTTP connections (unless the ``httpx.Client`` was given)."""
        if self._owns_client:
            self._http.close()

    def __enter__(self) -> ReportApi:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _call(self, method: str, path: str, *, json: Any = None, content: bytes | None = None,
              params: dict[str, str] | None = None, headers: dict[str, str] | None = None
              ) -> httpx.Response:
        sent = {**self._headers, **(headers or {})}
        if method not in ("GET", "HEAD"):
            sent.update(self._csrf)
        try:
            response = self._http.request(method, f"{self.url}/api{path}", json=json,
                                          content=content, params=params, headers=sent)
        except httpx.TransportError as exc:
            raise ArchiveUnavailableError(
                f"cannot reach the archive at {self.url}: {exc or type(exc).__name__}") from exc
        raise_for_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).json()

    # -- who and which templates -----------------------------------------------------------
    def me(self) -> dict[str, Any]:
        """The caller: ``user_id``, ``email``, ``roles``, ..."""
        answer: dict[str, Any] = self._json("GET", "/me")
        return answer

    def templates(self) -> list[dict[str, Any]]:
        """Templates a report can start from: ``id``, ``title``, ``modalities``, ..."""
        answer: list[dict[str, Any]] = self._json("GET", "/report-templates")
        return answer

    def template(self, template_id: str, version: int | None = None) -> Template:
        """One template with its typed fields, validated (cached per id and version)."""
        key = (template_id, version)
        if key not in self._templates:
            found = load_template(self._json("GET", f"/report-templates/{template_id}"))
            if version is not None and found.version != version:
                raise ValueError(f"the archive has version {found.version} of template "
                                 f"{template_id!r}, the report needs version {version}")
            self._templates[key] = found
        return self._templates[key]

    def preferences(self) -> dict[str, str]:
        """My template per modality (``*``: any)."""
        answer: dict[str, str] = self._json("GET", "/me/report-preferences")
        return answer

    # -- reports ---------------------------------------------------------------------------
    def study_reports(self, study_uid: str) -> list[dict[str, Any]]:
        """The study's reports as the caller may see them, oldest first."""
        answer: list[dict[str, Any]] = self._json("GET", f"/studies/{study_uid}/reports")
        return answer

    def create(self, study_uid: str, template: str | None = None,
               values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start a draft report: the named template, or the preferred one."""
        answer: dict[str, Any] = self._json("POST", f"/studies/{study_uid}/reports",
                                            json={"template": template,
                                                  "values": values or {}})
        return answer

    def report(self, report_id: str) -> dict[str, Any]:
        """A report with its versions."""
        answer: dict[str, Any] = self._json("GET", f"/reports/{report_id}")
        return answer

    def save(self, report_id: str, values: dict[str, Any], expected_version: int,
             template: str | None = None) -> dict[str, Any]:
        """Store the open version's values (409 when someone saved since `expected_version`)."""
        answer: dict[str, Any] = self._json("PUT", f"/reports/{report_id}", json={
            "values": values, "expected_version": expected_version, "template": template})
        return answer

    def mark_preliminary(self, report_id: str) -> dict[str, Any]:
        """Make the unsigned original preliminary."""
        answer: dict[str, Any] = self._json("POST", f"/reports/{report_id}/preliminary")
        return answer

    def sign(self, report_id: str, password: str | None) -> dict[str, Any]:
        """Sign the open version (the password asked again)."""
        answer: dict[str, Any] = self._json("POST", f"/reports/{report_id}/sign",
                                            json={"password": password})
        return answer

    def add_addendum(self, report_id: str, text: str, reason: str = "") -> dict[str, Any]:
        """Open an addendum of a signed report, to be signed."""
        answer: dict[str, Any] = self._json("POST", f"/reports/{report_id}/addenda",
                                            json={"text": text, "reason": reason})
        return answer

    def amend(self, report_id: str, values: dict[str, Any], reason: str,
              template: str | None = None) -> dict[str, Any]:
        """Open an amendment of a signed report (replacement values), to be signed."""
        answer: dict[str, Any] = self._json(
            "POST", f"/reports/{report_id}/amendments",
            json={"values": values, "reason": reason, "template": template})
        return answer

    def distribute(self, report_id: str, recipients: list[dict[str, Any]] | None = None
                   ) -> list[dict[str, Any]]:
        """Send the signed report (default: to those the study is shared with)."""
        answer: list[dict[str, Any]] = self._json(
            "POST", f"/reports/{report_id}/distribute", json={"recipients": recipients or []})
        return answer

    def deliveries(self, report_id: str) -> list[dict[str, Any]]:
        """The report's delivery log, newest first: recipient, channel, state, error."""
        answer: list[dict[str, Any]] = self._json("GET", f"/reports/{report_id}/deliveries")
        return answer

    def retry_delivery(self, delivery_id: int) -> dict[str, Any]:
        """Queue a failed delivery again."""
        answer: dict[str, Any] = self._json("POST", f"/report-deliveries/{delivery_id}/retry")
        return answer

    def verify(self, report_id: str) -> dict[str, Any]:
        """``valid``, ``signed_versions``, ``problems`` and a ``summary`` line."""
        answer: dict[str, Any] = self._json("GET", f"/reports/{report_id}/verify")
        return answer

    def pdf(self, report_id: str) -> bytes:
        """The report as PDF."""
        return self._call("GET", f"/reports/{report_id}/pdf").content

    def sources(self, study_uid: str) -> dict[str, list[dict[str, Any]]]:
        """The study's measurements (SR TID 1500) and key images (KOS) as field values."""
        answer: dict[str, list[dict[str, Any]]] = self._json(
            "GET", f"/studies/{study_uid}/report-sources")
        return answer

    # -- dictation -------------------------------------------------------------------------
    def upload_dictation(self, study_uid: str, audio: bytes, media_type: str
                         ) -> dict[str, Any]:
        """Store dictation audio with the study and queue it for transcription."""
        answer: dict[str, Any] = self._json(
            "POST", f"/studies/{study_uid}/dictations", content=audio,
            headers={"Content-Type": media_type or "application/octet-stream"})
        return answer

    def dictations(self, study_uid: str | None = None, state: str | None = None
                   ) -> list[dict[str, Any]]:
        """Dictations (of one study, in one state), oldest first."""
        params = {k: v for k, v in (("study", study_uid), ("state", state)) if v}
        answer: list[dict[str, Any]] = self._json("GET", "/dictations", params=params)
        return answer

    def dictation_audio(self, dictation_id: int) -> tuple[bytes, str]:
        """The audio of a dictation and its MIME type."""
        response = self._call("GET", f"/dictations/{dictation_id}/audio")
        return response.content, response.headers.get("content-type", "audio/wav")

    def transcribe(self, dictation_id: int, text: str, report_id: str | None = None,
                   field: str | None = None) -> dict[str, Any]:
        """Type `text` into the report's open version (field `field`); the dictation is done."""
        answer: dict[str, Any] = self._json(
            "POST", f"/dictations/{dictation_id}/transcript",
            json={"text": text, "report_id": report_id, "field": field})
        return answer
