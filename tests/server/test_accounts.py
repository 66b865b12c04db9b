"""Sign-up and account life over a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import RunningArchive, free_port, requires_sqlite, start_archive, stop_archive
from tests.server.people import (
    PASSWORD,
    VALID_NPIS,
    card_token,
    link_secret,
    login,
    sign_up,
    stow,
    token_for,
)
from tests.synth import make_ct


class Inbox:
    """An aiosmtpd handler keeping every message delivered."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        content = envelope.content  # type: ignore[attr-defined]
        self.messages.append(email.message_from_bytes(content))
        return "250 OK"

    def to(self, address: str, timeout: float = 10) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if message["To"] == address:
                    return message
            time.sleep(0.05)
        raise AssertionError(f"no e-mail to {address}")


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def mailing_archive(tmp_path_factory: pytest.TempPathFactory, smtp: tuple[Inbox, int]
                    ) -> Iterator[RunningArchive]:
    running = start_archive(tmp_path_factory.mktemp("mailing") / "data",
                            WORKBENCH_SMTP_HOST="127.0.0.1", WORKBENCH_SMTP_PORT=str(smtp[1]))
    yield running
    stop_archive(running)


def _body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _staff(archive: RunningArchive) -> dict[str, str]:
    return {"Authorization": f"Bearer {archive.token}"}


def test_sign_up_confirm_by_email_and_activate(mailing_archive: RunningArchive,
                                               smtp: tuple[Inbox, int]) -> None:
    archive, inbox = mailing_archive, smtp[0]
    r = sign_up(archive, "owner@clinic-one.example")
    assert r.status_code == 201, r.text
    account = r.json()
    assert account["state"] == "pending"
    assert account["card_brand"] == "visa" and account["card_last4"] == "4242"
    assert any("not confirmed" in reason for reason in account["reasons"])
    assert any("verify" in reason for reason in account["reasons"])
    # the applicant logs in and reads the same reasons; studies are out of reach
    client = login(archive, "owner@clinic-one.example")
    assert client.get("/api/account").json()["reasons"] == account["reasons"]
    denied = client.get("/dicom-web/studies")
    assert denied.status_code == 403 and "pending" in denied.json()["detail"]
    # the e-mail came over SMTP with the confirmation link
    message = inbox.to("owner@clinic-one.example")
    assert message["Subject"] == "Confirm your workbench sign-up"
    secret = link_secret(_body(message))
    page = httpx.get(f"{archive.url}/api/signup/confirm", params={"token": secret})
    assert page.status_code == 200 and "confirmed" in page.text
    again = httpx.get(f"{archive.url}/api/signup/confirm", params={"token": secret})
    assert again.status_code == 404 and "already used" in again.json()["detail"]
    reasons = client.get("/api/account").json()["reasons"]
    assert reasons == ["waiting for staff to verify the applicant's identity"]
    # staff activate; the same session now reaches the archive
    r = httpx.post(f"{archive.url}/api/staff/accounts/{account['account_id']}/state",
                   json={"state": "active"}, headers=_staff(archive))
    assert r.status_code == 200 and r.json()["state"] == "active" and r.json()["reasons"] == []
    assert client.get("/dicom-web/studies").status_code == 200
    client.close()


@requires_sqlite
def test_card_number_never_reaches_the_server(mailing_archive: RunningArchive) -> None:
    r = sign_up(mailing_archive, "cards@clinic-two.example",
                payment=card_token("5555 5555 5555 4444", 3, 2032))
    stored = (mailing_archive.data_dir / "index.sqlite").read_bytes()
    assert b"5555555555554444" not in stored and b"555555555555" not in stored
    assert r.json()["card_brand"] == "mastercard" and r.json()["card_expiry"] == "03/2032"


def test_typos_and_declined_cards_keep_the_account_pending(mailing_archive: RunningArchive,
                                                           smtp: tuple[Inbox, int]) -> None:
    archive = mailing_archive
    r = sign_up(archive, "typo@clinic-three.example", npi="1234567890",
                payment=card_token("4000000000000002"))
    assert r.status_code == 201
    reasons = r.json()["reasons"]
    assert any("check digit" in x and "should be 3" in x for x in reasons)
    assert any("declined" in x for x in reasons)
    secret = link_secret(_body(smtp[0].to("typo@clinic-three.example")))
    httpx.get(f"{archive.url}/api/signup/confirm", params={"token": secret})
    account_id = r.json()["account_id"]
    refused = httpx.post(f"{archive.url}/api/staff/accounts/{account_id}/state",
                         json={"state": "active"}, headers=_staff(archive))
    assert refused.status_code == 409 and "declined" in refused.json()["detail"]
    # the applicant corrects both; staff can then activate
    client = login(archive, "typo@clinic-three.example")
    assert client.patch("/api/account", json={"npi": "1234567893"}).status_code == 200
    fixed = client.put("/api/account/payment", json={"payment_token": card_token()})
    assert fixed.json()["reasons"] == ["waiting for staff to verify the applicant's identity"]
    assert httpx.post(f"{archive.url}/api/staff/accounts/{account_id}/state",
                      json={"state": "active"}, headers=_staff(archive)).status_code == 200
    client.close()


def test_invalid_sign_ups_are_refused_with_a_reason(mailing_archive: RunningArchive) -> None:
    short = httpx.post(f"{mailing_archive.url}/api/signup", json={
        "practice_name": "X", "name": "Y", "email": "short@x.example", "password": "short",
        "npi": VALID_NPIS[0], "payment_token": card_token()})
    assert short.status_code == 422 and "10 characters" in short.json()["detail"]
    bad_mail = httpx.post(f"{mailing_archive.url}/api/signup", json={
        "practice_name": "X", "name": "Y", "email": "not-an-address", "password": PASSWORD,
        "npi": VALID_NPIS[0], "payment_token": card_token()})
    assert bad_mail.status_code == 422 and "not an e-mail address" in bad_mail.json()["detail"]
    sign_up(mailing_archive, "twice@x.example")
    twice = sign_up(mailing_archive, "twice@x.example")
    assert twice.status_code == 409 and "exists" in twice.json()["detail"]


def _stow(archive: RunningArchive, headers: dict[str, str], seed: int) -> httpx.Response:
    return stow(archive, headers, make_ct(n=1, seed=seed, rows=16, columns=16))


def test_suspended_accounts_read_but_do_not_write(mailing_archive: RunningArchive,
                                                  smtp: tuple[Inbox, int]) -> None:
    archive = mailing_archive
    r = sign_up(archive, "late@clinic-four.example")
    account_id = r.json()["account_id"]
    httpx.get(f"{archive.url}/api/signup/confirm",
              params={"token": link_secret(_body(smtp[0].to("late@clinic-four.example")))})
    httpx.post(f"{archive.url}/api/staff/accounts/{account_id}/state", json={"state": "active"},
               headers=_staff(archive))
    client = login(archive, "late@clinic-four.example")
    headers = {"Authorization": f"Bearer {token_for(client)}"}
    assert _stow(archive, headers, 401).status_code == 200
    no_reason = httpx.post(f"{archive.url}/api/staff/accounts/{account_id}/state",
                           json={"state": "suspended"}, headers=_staff(archive))
    assert no_reason.status_code == 422
    httpx.post(f"{archive.url}/api/staff/accounts/{account_id}/state",
               json={"state": "suspended", "reason": "the November minimum was not paid"},
               headers=_staff(archive))
    refused = _stow(archive, headers, 402)
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
    studies = httpx.get(f"{archive.dicomweb}/studies", headers=headers)
    assert studies.status_code == 200 and len(studies.json()) == 1
    assert client.get("/api/account").json()["reasons"] == ["the November minimum was not paid"]
    httpx.post(f"{archive.url}/api/staff/accounts/{account_id}/state", json={"state": "active"},
               headers=_staff(archive))
    assert _stow(archive, headers, 402).status_code == 200
    httpx.post(f"{archive.url}/api/staff/accounts/{account_id}/state",
               json={"state": "closed", "reason": "the practice closed"}, headers=_staff(archive))
    assert httpx.get(f"{archive.dicomweb}/studies", headers=headers).status_code == 403
    reopen = httpx.post(f"{archive.url}/api/staff/accounts/{account_id}/state",
                        json={"state": "active"}, headers=_staff(archive))
    assert reopen.status_code == 409 and "final" in reopen.json()["detail"]
    client.close()


def test_only_staff_decide_on_accounts(mailing_archive: RunningArchive) -> None:
    r = sign_up(mailing_archive, "eager@clinic-five.example")
    client = login(mailing_archive, "eager@clinic-five.example")
    own = client.post(f"/api/staff/accounts/{r.json()['account_id']}/state",
                      json={"state": "active"})
    assert own.status_code == 403
    assert client.get("/api/staff/accounts").status_code == 403
    client.close()


def test_outbox_when_no_smtp_server(archive: RunningArchive, tmp_path: Path) -> None:
    r = sign_up(archive, "outbox@clinic-six.example")
    assert r.status_code == 201
    messages = list((archive.data_dir / "outbox").glob("*.eml"))
    assert any(b"outbox@clinic-six.example" in m.read_bytes() for m in messages)
