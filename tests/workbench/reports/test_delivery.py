"""Channels: preferences to routes, SMTP to a real server on loopback, the fax spool."""

from __future__ import annotations

import email
import json
import smtplib
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from workbench.errors import WorkbenchError
from workbench.reports.delivery import (
    EmailChannel,
    Recipient,
    SpoolFaxGateway,
    attachment_message,
    link_message,
    routes_for,
)


class Inbox:
    """Keeps delivered messages; refuses mail to ``refuse@...``."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_RCPT(self, server: object, session: object, envelope: object,  # noqa: N802
                          address: str, options: list[str]) -> str:
        if address.startswith("refuse@"):
            return "550 mailbox unavailable"
        envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_routes_follow_preferences() -> None:
    assert routes_for(Recipient("A", "a@x.org")) == [("email", "a@x.org")]
    assert routes_for(Recipient("B", fax="+1 555-010-2000", preference="fax")) == [
        ("fax", "+15550102000")]
    assert len(routes_for(Recipient("C", "c@x.org", "5550102000", "both"))) == 2
    with pytest.raises(ValueError, match="no fax number"):
        routes_for(Recipient("D", "d@x.org", preference="both"))
    with pytest.raises(ValueError, match="not a fax number"):
        routes_for(Recipient("E", fax="call me", preference="fax"))


def test_smtp_link_and_attachment(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    channel = EmailChannel("127.0.0.1", port)
    channel.send(link_message("pacs@x.org", "ref@x.org", link="https://pacs/x/abc",
                              expires="2026-02-01 10:00 UTC", signer="Dr A"))
    channel.send(attachment_message("pacs@x.org", "ref@x.org", pdf=b"%PDF-1.3 test",
                                    filename="report.pdf", signer="Dr A"))
    deadline = time.monotonic() + 10
    while len(inbox.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    link, attached = inbox.messages
    body = link.get_payload(decode=True)
    assert isinstance(body, bytes) and b"https://pacs/x/abc" in body
    assert not link.is_multipart()
    parts = [p for p in attached.walk() if p.get_content_type() == "application/pdf"]
    assert parts and parts[0].get_payload(decode=True) == b"%PDF-1.3 test"
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        channel.send(link_message("pacs@x.org", "refuse@x.org", link="l", expires="e",
                                  signer="Dr A"))
    with pytest.raises(OSError):
        EmailChannel("127.0.0.1", free_port(), timeout=2).send(
            link_message("pacs@x.org", "ref@x.org", link="l", expires="e", signer="Dr A"))


def test_outbox_without_smtp(tmp_path: Path) -> None:
    EmailChannel(None, outbox=tmp_path).send(
        link_message("a@x.org", "b@x.org", link="l", expires="e", signer="Dr A"))
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_fax_spool(tmp_path: Path) -> None:
    gateway = SpoolFaxGateway(tmp_path)
    job = gateway.submit("+1 (555) 010-2000", b"%PDF-1.3 fax", "report r1 v2")
    control = json.loads((tmp_path / "outgoing" / f"{job}.json").read_text())
    assert control == {"job": job, "number": "+15550102000", "reference": "report r1 v2",
                       "document": f"{job}.pdf"}
    assert (tmp_path / "outgoing" / f"{job}.pdf").read_bytes() == b"%PDF-1.3 fax"
    assert not list((tmp_path / "outgoing").glob(".*"))  # no temporary files left
    assert gateway.status(job).state == "queued"
    (tmp_path / "failed" / f"{job}.json").write_text('{"detail": "no answer"}')
    assert gateway.status(job).state == "failed" and gateway.status(job).detail == "no answer"
    other = gateway.submit("5550102001", b"%PDF", "r")
    (tmp_path / "done" / f"{other}.json").write_text("{}")
    assert gateway.status(other).state == "sent"
    with pytest.raises(WorkbenchError):
        gateway.status("0" * 32)
    with pytest.raises(WorkbenchError):
        gateway.status("../../etc/passwd")
