"""Distribution of signed reports: a delivery log with retries, worked by a thread.

Sending a report queues one ``report_deliveries`` row per recipient and channel (their
preference: e-mail, fax or both). A worker thread in each server process claims due
rows (an UPDATE that only one process wins, holding the row for ``LEASE``; a row left in
``sending`` by a worker that died is taken again when that runs out), sends them, and
records the outcome:
``sent``; ``submitted`` (fax, until the gateway reports); ``retrying`` with the error and
the next attempt (``report_retry_s``, doubled each time); ``failed`` after
``report_delivery_attempts``, shown to the physician, who can retry. E-mails carry a
secure link (a fresh token per attempt, stored as SHA-256, valid ``report_link_days``,
opened only by the recipient logged in) or, if configured, the PDF. When an addendum
or amendment is signed, everyone who received an earlier version gets the new one.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from server.auth.permissions import Principal
from server.db.accounts import shares, team_members, users
from server.db.engine import write_transaction
from server.db.models import studies
from server.db.reports import report_deliveries, reports
from server.db.visibility import study_is_visible, visible_studies
from server.services import reports as core
from workbench.errors import ConflictError, NotFoundError
from workbench.reports.delivery import (
    EmailChannel,
    FaxGateway,
    Recipient,
    SpoolFaxGateway,
    attachment_message,
    link_message,
    normal_fax_number,
    routes_for,
)

if TYPE_CHECKING:
    from server.deps import Services
    from server.services.reports_runtime import ReportServices

log = logging.getLogger(__name__)
DUE = ("queued", "retrying")
LEASE = timedelta(minutes=10)
"""How long a claimed delivery stays with its worker. A worker that dies mid-send leaves
the row in ``sending``; once the lease has run out another worker takes it again (the
recipient may then get the message twice: better than never)."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _recipient_principal(conn: Connection, user: Any) -> Principal:
    teams = tuple(conn.execute(select(team_members.c.team_pk).where(
        team_members.c.user_pk == user.pk, team_members.c.role == "reader")).scalars())
    return Principal(user.pk, user.account_pk, "active", user.email,
                     frozenset(user.roles.split()), reader_teams=teams)


class Distribution:
    """Queue and work report deliveries."""

    def __init__(self, services: Services, email: EmailChannel, fax: FaxGateway) -> None:
        self.services, self.email, self.fax = services, email, fax
        self.settings = services.settings
        self.engine = services.engine
        self.poll_s = min(1.0, self.settings.report_retry_s / 2)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rs: ReportServices | None = None

    @classmethod
    def for_settings(cls, services: Services) -> Distribution:
        """Channels from the settings: the SMTP server (or outbox) and the fax spool."""
        s = services.settings
        email = EmailChannel(s.smtp_host, s.smtp_port, starttls=s.smtp_starttls,
                             username=s.smtp_username, password=s.smtp_password,
                             outbox=s.data_dir / "outbox")
        return cls(services, email, SpoolFaxGateway(s.fax_spool_dir or s.data_dir / "fax-spool"))

    def bind(self, rs: ReportServices) -> None:
        """The report services (PDF rendering) the worker uses."""
        self._rs = rs

    # -- queueing (request threads) -----------------------------------------------------
    def recipients(self, conn: Connection, loaded: core.Loaded, specs: list[dict[str, Any]]
                   ) -> list[Recipient]:
        """Recipients named in a request (user ids who see the study, or fax numbers), or
        by default the users the study or its patient folder is shared with."""
        study_uid = loaded.report.subject.study_uid
        if not specs:
            study = conn.execute(select(studies.c.pk, studies.c.patient_pk)
                                 .where(studies.c.pk == loaded.study_pk)).one()
            ids = conn.execute(select(shares.c.user_pk).where(shares.c.user_pk.is_not(None), or_(
                shares.c.study_pk == study.pk, shares.c.patient_pk == study.patient_pk)
            ).distinct()).scalars().all()
            if not ids:
                raise ValueError("no recipients: name them, or share the study with the "
                                 "referring physician first")
            specs = [{"user_id": i} for i in ids]
        out = []
        for spec in specs:
            if spec.get("user_id") is not None:
                user = conn.execute(select(users).where(users.c.pk == spec["user_id"],
                                                        users.c.active.is_(True))).first()
                if user is None or not study_is_visible(conn, _recipient_principal(conn, user),
                                                        study_uid):
                    raise ValueError(f"user {spec['user_id']} does not see this study: share "
                                     "it with them first")
                out.append(Recipient(user.name or user.email, user.email, user.fax_number,
                                     user.distribution, user.pk))
            elif spec.get("fax"):
                out.append(Recipient(str(spec.get("name") or "Fax recipient"),
                                     fax=normal_fax_number(str(spec["fax"])), preference="fax"))
            else:
                raise ValueError("a recipient is {user_id} or {fax, name}")
        return out

    def queue(self, principal: Principal, loaded: core.Loaded, recipients: list[Recipient],
              base_url: str, version: int | None = None) -> list[int]:
        """Queue deliveries of the newest signed version (or `version`); returns row ids."""
        signed = loaded.report.signed
        if not signed:
            raise ConflictError("only signed reports are distributed; sign it first")
        number = version or signed[-1].number
        mode = "attachment" if self.settings.report_email_attachments else "link"
        rows = [{"report_pk": loaded.pk, "version_number": number, "recipient_user_pk": r.user_pk,
                 "recipient_name": r.name, "channel": channel, "address": address,
                 "mode": mode if channel == "email" else "fax", "state": "queued", "attempts": 0,
                 "max_attempts": self.settings.report_delivery_attempts,
                 "next_attempt_at": _now(), "last_error": "", "gateway_job": "",
                 "link_base": base_url, "requested_by": principal.user_pk, "created_at": _now()}
                for r in recipients for channel, address in routes_for(r)]
        with write_transaction(self.engine) as conn:
            ids = [int(conn.execute(insert(report_deliveries).values(**row))
                       .inserted_primary_key[0]) for row in rows]  # type: ignore[index]
        self._wake.set()
        return ids

    def resend(self, principal: Principal, loaded: core.Loaded) -> list[int]:
        """Send the newest signed version to everyone who received an earlier one."""
        latest = loaded.report.signed[-1].number
        with self.engine.connect() as conn:
            rows = conn.execute(select(report_deliveries).where(
                report_deliveries.c.report_pk == loaded.pk,
                report_deliveries.c.state == "sent",
                report_deliveries.c.version_number < latest)).fetchall()
        seen: dict[tuple[Any, ...], Recipient] = {}
        for r in rows:
            key = (r.recipient_user_pk, r.channel, r.address)
            seen[key] = Recipient(r.recipient_name, r.address if r.channel == "email" else "",
                                  r.address if r.channel == "fax" else "", r.channel,
                                  r.recipient_user_pk)
        if not seen:
            return []
        return self.queue(principal, loaded, list(seen.values()), rows[0].link_base, latest)

    def retry(self, conn: Connection, principal: Principal, delivery_pk: int) -> None:
        """Queue a failed delivery again (with a fresh set of attempts)."""
        row = self._visible(conn, principal, delivery_pk)
        if row.state != "failed":
            raise ConflictError(f"delivery {delivery_pk} is {row.state}, not failed")
        conn.execute(update(report_deliveries).where(report_deliveries.c.pk == delivery_pk)
                     .values(state="queued", attempts=0, next_attempt_at=_now()))
        self._wake.set()

    def _visible(self, conn: Connection, principal: Principal, delivery_pk: int) -> Any:
        row = conn.execute(select(report_deliveries).join(
            reports, reports.c.pk == report_deliveries.c.report_pk).join(
            studies, studies.c.pk == reports.c.study_pk).where(
            report_deliveries.c.pk == delivery_pk, visible_studies(principal))).first()
        if row is None:
            raise NotFoundError(f"no delivery {delivery_pk}")
        return row

    def open_link(self, conn: Connection, principal: Principal, token: str) -> tuple[Any, int]:
        """The (report pk, version) a link opens for its recipient (else NotFoundError)."""
        row = conn.execute(select(report_deliveries).where(
            report_deliveries.c.link_sha256 == _sha(token))).first()
        if (row is None or row.recipient_user_pk != principal.user_pk
                or row.link_expires_at is None or row.link_expires_at < _now()):
            raise NotFoundError("this report link is unknown, expired, or for someone else")
        return row.report_pk, int(row.version_number)

    # -- the worker ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._loop, name="report-distribution",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the worker (a delivery in progress finishes)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.work_once()
            except Exception:  # the worker must survive a bad row or a locked database
                log.exception("report distribution round failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def work_once(self) -> int:
        """Send what is due and poll submitted faxes; returns how many rows were handled."""
        with self.engine.connect() as conn:
            due = conn.execute(select(report_deliveries.c.pk, report_deliveries.c.state).where(
                or_(and_(report_deliveries.c.state.in_((*DUE, "sending")),
                         report_deliveries.c.next_attempt_at <= _now()),
                    report_deliveries.c.state == "submitted")).limit(50)).fetchall()
        for pk, state in due:
            if state == "submitted":
                self._poll_fax(pk)
            elif self._claim(pk, state):
                self._attempt(pk)
        return len(due)

    def _claim(self, pk: int, state: str) -> bool:
        """Take a due delivery (or one whose worker's lease ran out) for this worker."""
        now = _now()
        with write_transaction(self.engine) as conn:
            won = conn.execute(update(report_deliveries).where(
                report_deliveries.c.pk == pk, report_deliveries.c.state == state,
                report_deliveries.c.next_attempt_at <= now).values(
                state="sending", attempts=report_deliveries.c.attempts + 1,
                next_attempt_at=now + LEASE))
            return bool(won.rowcount)

    def _pdf(self, report_pk: int, version: int) -> bytes:
        from server.services.reports_export import pdf_bytes

        assert self._rs is not None
        with self.engine.connect() as conn:
            loaded = core.load_pk(conn, report_pk)
        shown = replace(loaded.report, versions=tuple(v for v in loaded.report.versions
                                                      if v.number <= version))
        return pdf_bytes(self._rs, replace(loaded, report=shown))

    def _attempt(self, pk: int) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(select(report_deliveries).where(report_deliveries.c.pk == pk)).one()
            uid = conn.execute(select(reports.c.uid).where(reports.c.pk == row.report_pk)
                               ).scalar()
        values: dict[str, Any]
        try:
            if row.channel == "fax":
                job = self.fax.submit(row.address, self._pdf(row.report_pk, row.version_number),
                                      f"report {uid} v{row.version_number}")
                values = {"state": "submitted", "gateway_job": job, "last_error": "",
                          "next_attempt_at": None}
            else:
                values = self._email(row)
        except Exception as exc:  # any failure is recorded and retried, never lost
            values = self._failure(row.attempts, f"{type(exc).__name__}: {exc}")
        with write_transaction(self.engine) as conn:
            conn.execute(update(report_deliveries).where(report_deliveries.c.pk == pk)
                         .values(**values))

    def _email(self, row: Any) -> dict[str, Any]:
        with self.engine.connect() as conn:
            loaded = core.load_pk(conn, row.report_pk)
        version = next(v for v in loaded.report.versions if v.number == row.version_number)
        signer = version.signature.signer_name if version.signature else "A physician"
        sender = self.settings.mail_from
        if row.mode == "attachment":
            message = attachment_message(sender, row.address, filename=f"report-{loaded.report.uid}"
                                         ".pdf", pdf=self._pdf(row.report_pk, row.version_number),
                                         signer=signer)
            self.email.send(message)
            return {"state": "sent", "sent_at": _now(), "last_error": "", "next_attempt_at": None}
        token = secrets.token_urlsafe(32)
        expires = _now() + timedelta(days=self.settings.report_link_days)
        with write_transaction(self.engine) as conn:
            conn.execute(update(report_deliveries).where(report_deliveries.c.pk == row.pk)
                         .values(link_sha256=_sha(token), link_expires_at=expires))
        self.email.send(link_message(sender, row.address, signer=signer,
                                     link=f"{row.link_base}/api/report-links/{token}",
                                     expires=f"{expires:%Y-%m-%d %H:%M} UTC"))
        return {"state": "sent", "sent_at": _now(), "last_error": "", "next_attempt_at": None}

    def _failure(self, attempts: int, error: str) -> dict[str, Any]:
        if attempts >= self.settings.report_delivery_attempts:
            return {"state": "failed", "last_error": error[:2000], "next_attempt_at": None}
        wait = self.settings.report_retry_s * 2 ** max(0, attempts - 1)
        return {"state": "retrying", "last_error": error[:2000],
                "next_attempt_at": _now() + timedelta(seconds=wait)}

    def _poll_fax(self, pk: int) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(select(report_deliveries).where(report_deliveries.c.pk == pk)).one()
        status = self.fax.status(row.gateway_job)
        if status.state == "queued":
            return
        values = ({"state": "sent", "sent_at": _now(), "last_error": ""}
                  if status.state == "sent"
                  else self._failure(row.attempts, f"fax gateway: {status.detail or 'failed'}"))
        with write_transaction(self.engine) as conn:
            conn.execute(update(report_deliveries).where(
                report_deliveries.c.pk == pk, report_deliveries.c.state == "submitted")
                .values(**values))


def delivery_json(row: Any) -> dict[str, Any]:
    """A delivery as the API shows it (no link token)."""
    def when(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat() + "Z"

    return {"id": row.pk, "version": row.version_number, "recipient": row.recipient_name,
            "recipient_user_id": row.recipient_user_pk, "channel": row.channel,
            "address": row.address, "mode": row.mode, "state": row.state,
            "attempts": row.attempts, "max_attempts": row.max_attempts,
            "next_attempt_at": when(row.next_attempt_at), "last_error": row.last_error,
            "created_at": when(row.created_at), "sent_at": when(row.sent_at)}


def deliveries(conn: Connection, principal: Principal, *, report_pk: int | None = None,
               states: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Deliveries of reports the caller sees (one report's, or by state), newest first."""
    stmt = select(report_deliveries).join(reports, reports.c.pk == report_deliveries.c.report_pk
                                          ).join(studies, studies.c.pk == reports.c.study_pk
                                                 ).where(visible_studies(principal))
    if report_pk is not None:
        stmt = stmt.where(report_deliveries.c.report_pk == report_pk)
    if states:
        stmt = stmt.where(report_deliveries.c.state.in_(states))
    return [delivery_json(r) for r in conn.execute(
        stmt.order_by(report_deliveries.c.pk.desc()).limit(500)).fetchall()]
