"""The sign-up, log-in and media upload pages (plain HTML and a little JavaScript, served as files).

The card number typed on the sign-up page goes only to the payment provider's script
(for the test provider: a function in the page), which returns a token; the archive
receives the token.

Every page lives one level under the archive's root and names the archive's URLs
relative to itself (``api/...``, ``dicom-web/...``, ``login``), so the pages work under
a path prefix too (the JupyterHub service's ``/services/archive/``, docs/jupyter.md).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
_HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                       "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((STATIC / name).read_text(encoding="utf-8"), headers=_HEADERS)


@router.get("/signup")
def signup_page() -> HTMLResponse:
    """Sign a practice up."""
    return _page("signup.html")


@router.get("/login")
def login_page() -> HTMLResponse:
    """Log in, set a password from an e-mailed link, see the account's state."""
    return _page("login.html")


@router.get("/media-upload")
def media_page() -> HTMLResponse:
    """Upload documents, images, audio and DICOM files to a study or a patient's folder."""
    return _page("media.html")


@router.get("/billing-reports")
def reports_page() -> HTMLResponse:
    """Administrators run the billing and retention notebooks and download the results."""
    return _page("reports.html")
