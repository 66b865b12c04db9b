"""Distribution channels for final reports: e-mail over SMTP and fax through a gateway.

- :func:`routes_for` turns a recipient's preference (``email``, ``fax`` or ``both``) into
  the deliveries to make.
- :class:`EmailChannel` sends over SMTP (or writes ``.eml`` files to an outbox folder
  when no server is configured). :func:`link_message` carries a secure link and no
  patient data (the default); :func:`attachment_message` attaches the PDF.
- :class:`FaxGateway` is what a fax service offers: submit a document, ask for its
  state. :class:`SpoolFaxGateway` implements it with a spool folder shared with fax
  software (HylaFAX, a modem daemon, a cloud fax agent): each job is
  ``outgoing/<job>.pdf`` plus ``outgoing/<job>.json`` (written last, atomically: the
  job exists once its JSON does); the fax software reports by writing
  ``done/<job>.json`` or ``failed/<job>.json`` (``{"detail": "..."}``).
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

from workbench.errors import WorkbenchError

__all__ = ["EmailChannel", "FaxGateway", "FaxStatus", "Recipient", "SpoolFaxGateway",
           "attachment_message", "link_message", "normal_fax_number", "routes_for"]

Preference = Literal["email", "fax", "both"]
_FAX = re.compile(r"^\+?[0-9]{7,15}$")


def normal_fax_number(number: str) -> str:
    """A fax number without spaces, dashes, dots or parentheses (``ValueError`` if it is
    not 7-15 digits with an optional ``+``).

    Examples
    --------
    >>> normal_fax_number("+1 (555) 010-2000")
    '+15550102000'
    """
    cleaned = re.sub(r"[\s().-]", "", number)
    if not _FAX.match(cleaned):
        raise ValueError(f"{number!r} is not a fax number (7-15 digits, optional +)")
    return cleaned


@dataclass(frozen=True)
class Recipient:
    """Who receives a final report, and how they prefer it."""

    name: str
    email: str = ""
    fax: str = ""
    preference: Preference = "email"
    user_pk: int | None = None


def routes_for(recipient: Recipient) -> list[tuple[str, str]]:
    """The ``(channel, address)`` deliveries a recipient's preference asks for.

    Raises
    ------
    ValueError
        The preference names a channel the recipient has no address for.

    Examples
    --------
    >>> routes_for(Recipient("Dr B", "b@example.org", "555 010 2000", "both"))
    [('email', 'b@example.org'), ('fax', '5550102000')]
    """
    wanted = ("email", "fax") if recipient.preference == "both" else (recipient.preference,)
    out = []
    for channel in wanted:
        address = recipient.email if channel == "email" else recipient.fax
        if not address:
            raise ValueError(f"{recipient.name} prefers {recipient.preference} but has no "
                             f"{'e-mail address' if channel == 'email' else 'fax number'}")
        out.append((channel, address if channel == "email" else normal_fax_number(address)))
    return out


def link_message(sender: str, to: str, *, link: str, expires: str, signer: str) -> EmailMessage:
    """An e-mail with a secure link to a report and no patient data."""
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    message["Subject"] = "A signed report is ready for you"
    message.set_content(
        f"{signer} signed a report for you.\n\nOpen it here (log in as {to}):\n{link}\n\n"
        f"The link works until {expires}. If you did not expect this message, ignore it.\n")
    return message


def attachment_message(sender: str, to: str, *, pdf: bytes, filename: str,
                       signer: str) -> EmailMessage:
    """An e-mail with the report PDF attached (use only where policy allows PHI by mail)."""
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    message["Subject"] = "Signed report (PDF attached)"
    message.set_content(f"{signer} signed the attached report for you.\n")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


class EmailChannel:
    """Send messages over SMTP, or to ``.eml`` files in `outbox` without a host.

    Parameters
    ----------
    host, port, starttls, username, password
        The SMTP server; None `host` writes to `outbox`.
    outbox
        Folder for messages when no SMTP host is set.
    timeout
        Seconds for the SMTP conversation.
    """

    def __init__(self, host: str | None, port: int = 25, *, starttls: bool = False,
                 username: str | None = None, password: str | None = None,
                 outbox: Path | None = None, timeout: float = 20) -> None:
        self.host, self.port, self.starttls = host, port, starttls
        self.username, self.password = username, password
        self.outbox, self.timeout = outbox, timeout

    def send(self, message: EmailMessage) -> str:
        """Send `message`; return its Message-ID (``OSError``/``SMTPException`` on failure,
        e.g. a recipient refused)."""
        if "Message-ID" not in message:
            message["Message-ID"] = f"<{uuid.uuid4().hex}@workbench>"
        if self.host is None:
            if self.outbox is None:
                raise OSError("no SMTP server and no outbox folder are configured")
            self.outbox.mkdir(parents=True, exist_ok=True)
            (self.outbox / f"{uuid.uuid4().hex}.eml").write_bytes(bytes(message))
            return str(message["Message-ID"])
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            refused = smtp.send_message(message)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)  # type: ignore[arg-type]
        return str(message["Message-ID"])


@dataclass(frozen=True)
class FaxStatus:
    """A fax job's state: ``queued`` (not done yet), ``sent`` or ``failed``."""

    state: Literal["queued", "sent", "failed"]
    detail: str = ""


class FaxGateway(Protocol):
    """A fax service: submit documents, then poll their state."""

    def submit(self, number: str, document: bytes, reference: str) -> str:
        """Queue `document` (PDF) for `number`; return the job id."""

    def status(self, job: str) -> FaxStatus:
        """The state of job `job`."""


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class SpoolFaxGateway:
    """A :class:`FaxGateway` over a spool folder (layout in the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for sub in ("outgoing", "done", "failed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)

    def submit(self, number: str, document: bytes, reference: str) -> str:
        """Write the job (PDF, then its JSON control file); return the job id."""
        job = uuid.uuid4().hex
        outgoing = self.folder / "outgoing"
        _write_atomic(outgoing / f"{job}.pdf", document)
        control = {"job": job, "number": normal_fax_number(number), "reference": reference,
                   "document": f"{job}.pdf"}
        _write_atomic(outgoing / f"{job}.json", json.dumps(control).encode())
        return job

    def status(self, job: str) -> FaxStatus:
        """``sent``/``failed`` once the fax software wrote its result, else ``queued``.

        Raises
        ------
        WorkbenchError
            The job is unknown to the spool.
        """
        if not re.fullmatch(r"[0-9a-f]{32}", job):
            raise WorkbenchError(f"{job!r} is not a spool job id")
        for state in ("done", "failed"):
            result = self.folder / state / f"{job}.json"
            if result.exists():
                try:
                    detail = str(json.loads(result.read_text() or "{}").get("detail", ""))
                except (ValueError, AttributeError):
                    detail = result.read_text(errors="replace")[:500]
                return FaxStatus("sent" if state == "done" else "failed", detail)
        if (self.folder / "outgoing" / f"{job}.json").exists():
            return FaxStatus("queued")
        raise WorkbenchError(f"fax job {job} is not in the spool folder")
