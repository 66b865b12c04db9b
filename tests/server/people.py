"""Make real users of a running archive the way people do: sign-up, invitation, e-mail links.

E-mails are read from the archive's outbox (``<data_dir>/outbox``, used when no SMTP
server is configured) or from an SMTP test server's messages.
"""

from __future__ import annotations

import email
import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydicom import Dataset

from server.services.payments import TestPaymentProvider
from tests.conftest import RunningArchive
from tests.synth import to_bytes
from workbench.dicomweb.multipart_writer import (
    multipart_chunks,
    multipart_content_type,
    new_boundary,
)

PASSWORD = "correct horse battery"
VALID_NPIS = ("1234567893", "1245319599", "1003000126", "1760571632", "1497758544")
_LINK = re.compile(r"(?:token=|set-password=)([A-Za-z0-9_\-]+)")


def card_token(number: str = "4242424242424242", month: int = 12, year: int = 2031) -> str:
    """What the test provider's browser script returns for a card."""
    return TestPaymentProvider.tokenize(number, month, year)


def mail_to(data_dir: Path, address: str, timeout: float = 10.0) -> list[str]:
    """Bodies of the messages the archive wrote to ``address`` (newest last)."""
    deadline = time.monotonic() + timeout
    while True:
        bodies = []
        for path in sorted((data_dir / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime):
            message = email.message_from_bytes(path.read_bytes())
            if message["To"] == address:
                payload = message.get_payload(decode=True)
                assert isinstance(payload, bytes)
                bodies.append(payload.decode())
        if bodies or time.monotonic() > deadline:
            return bodies
        time.sleep(0.05)


def link_secret(body: str) -> str:
    """The secret of the link in an e-mail body."""
    match = _LINK.search(body)
    assert match, f"no link in {body!r}"
    return match.group(1)


@dataclass
class Person:
    """A user with a logged-in browser session and an API token."""

    email: str
    user_id: int
    account_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """Bearer headers for this person's token."""
        return {"Authorization": f"Bearer {self.token}"}


def login(archive: RunningArchive, address: str, password: str = PASSWORD) -> httpx.Client:
    """A client holding a session cookie, with the CSRF header set."""
    client = httpx.Client(base_url=archive.url, timeout=30)
    r = client.post("/api/auth/login", json={"email": address, "password": password})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


def token_for(client: httpx.Client, scopes: tuple[str, ...] = ("read", "write", "admin")) -> str:
    """Create an API token through a logged-in session."""
    r = client.post("/api/tokens", json={"name": "tests", "scopes": list(scopes)})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def add_member(archive: RunningArchive, admin_headers: dict[str, str], address: str,
               roles: list[str], **extra: object) -> Person:
    """Invite a member, set the password from the e-mailed link, log in, make a token."""
    body: dict[str, object] = {"email": address, "name": address.split("@")[0],
                               "roles": roles, **extra}
    if "reading_physician" in roles and "npi" not in body:
        body["npi"] = VALID_NPIS[0]
    r = httpx.post(f"{archive.url}/api/members", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    secret = link_secret(mail_to(archive.data_dir, address)[-1])
    r = httpx.post(f"{archive.url}/api/auth/password",
                   json={"token": secret, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client = login(archive, address)
    try:
        me = client.get("/api/me").json()
        return Person(address, me["user_id"], me["account_id"], token_for(client))
    finally:
        client.close()


def sign_up(archive: RunningArchive, address: str, *, practice: str = "Partner clinic",
            npi: str = VALID_NPIS[1], payment: str | None = None) -> httpx.Response:
    """Submit the sign-up form."""
    return httpx.post(f"{archive.url}/api/signup", json={
        "practice_name": practice, "name": "Dr " + address.split("@")[0], "email": address,
        "password": PASSWORD, "npi": npi, "payment_token": payment or card_token()})


def active_practice(archive: RunningArchive, address: str, **kwargs: str) -> Person:
    """A new practice: signed up, e-mail confirmed, activated by staff; its administrator."""
    r = sign_up(archive, address, **kwargs)
    assert r.status_code == 201, r.text
    account = r.json()["account_id"]
    secret = link_secret(mail_to(archive.data_dir, address)[-1])
    assert httpx.get(f"{archive.url}/api/signup/confirm", params={"token": secret}
                     ).status_code == 200
    r = httpx.post(f"{archive.url}/api/staff/accounts/{account}/state", json={"state": "active"},
                   headers={"Authorization": f"Bearer {archive.token}"})
    assert r.status_code == 200, r.text
    client = login(archive, address)
    try:
        me = client.get("/api/me").json()
        return Person(address, me["user_id"], me["account_id"], token_for(client))
    finally:
        client.close()


def stow(archive: RunningArchive, headers: dict[str, str], datasets: list[Dataset],
         **extra_headers: str) -> httpx.Response:
    """POST datasets to STOW-RS as one multipart/related request."""
    boundary = new_boundary()
    body = b"".join(multipart_chunks(
        [({"Content-Type": "application/dicom"}, to_bytes(ds)) for ds in datasets], boundary))
    return httpx.post(f"{archive.dicomweb}/studies", content=body, timeout=60, headers={
        **headers, **extra_headers,
        "Content-Type": multipart_content_type(boundary, "application/dicom")})
