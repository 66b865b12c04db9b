"""Outgoing e-mail: SMTP when configured, otherwise ``.eml`` files in ``<data_dir>/outbox``.

Messages carry links and account facts, never patient data. Sending happens on the
caller's thread (routes that mail are synchronous and run in the thread pool).
"""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path


class Mailer:
    """Send plain-text messages.

    Parameters
    ----------
    sender
        The From address.
    host, port
        The SMTP server; None writes messages to ``outbox`` instead.
    outbox
        Folder for messages when no SMTP server is configured.
    starttls, username, password
        Optional SMTP security and login.
    """

    def __init__(self, sender: str, *, host: str | None = None, port: int = 25,
                 outbox: Path | None = None, starttls: bool = False,
                 username: str | None = None, password: str | None = None) -> None:
        self.sender = sender
        self.host = host
        self.port = port
        self.outbox = outbox
        self.starttls = starttls
        self.username = username
        self.password = password

    def send(self, to: str, subject: str, body: str) -> None:
        """Send one message (raises ``OSError``/``smtplib.SMTPException`` on failure)."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = f"<{uuid.uuid4().hex}@workbench>"
        message.set_content(body)
        if self.host is None:
            if self.outbox is None:
                raise OSError("no SMTP server and no outbox folder are configured")
            self.outbox.mkdir(parents=True, exist_ok=True)
            (self.outbox / f"{uuid.uuid4().hex}.eml").write_bytes(bytes(message))
            return
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
