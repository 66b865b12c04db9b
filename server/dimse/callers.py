"""Who is calling: calling AE titles -> registered sources -> principals.

An association is accepted only from the AE title of an active source whose account is
active or suspended (suspended accounts are read-only: their stores are refused with
"not authorized", their queries answered). The caller acts as that source: what it
stores goes into the source's account (shared with the source's team, if any), and with
the source's query/retrieve permission (``can_retrieve``) it sees exactly the studies
the account's members see, through the same SQL (``server/db/visibility.py``).

Rejections use the reasons of PS3.8 9.3.4 ("calling AE title not recognized", "called AE
title not recognized", "no reason given" for an account that is not open) and name the
real cause in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from server.auth.permissions import Principal
from server.db.accounts import accounts, sources
from server.services.placement import Placement

REJECT_PERMANENT = 0x01
SOURCE_SERVICE_USER = 0x01
NO_REASON = 0x01
CALLING_AE_UNKNOWN = 0x03
CALLED_AE_UNKNOWN = 0x07
OPEN_STATES = ("active", "suspended")


@dataclass(frozen=True)
class Caller:
    """An accepted calling AE.

    ``principal`` is None for the forwarder, which has no accounts (it only spools).
    """

    ae_title: str
    principal: Principal | None = None

    @property
    def label(self) -> str:
        """Who this is in the audit trail and the logs."""
        return f"ae:{self.ae_title}"

    @property
    def placement(self) -> Placement:
        """Where what this caller stores belongs."""
        p = self.principal
        if p is None:
            return Placement()
        return Placement(p.account_pk, p.source_team_pk, p)


@dataclass(frozen=True)
class Rejection:
    """Why an association is refused: the A-ASSOCIATE-RJ fields and the cause in words."""

    diagnostic: int
    detail: str
    account_pk: int | None = None


@dataclass(frozen=True)
class Destination:
    """Where C-MOVE sends: a registered source's AE title, host and port."""

    ae_title: str
    host: str
    port: int


def clean_title(raw: str | bytes) -> str:
    """An AE title as received, without padding."""
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
    return text.strip(" \x00")


class SourceDirectory:
    """Resolve calling AE titles and C-MOVE destinations against the ``sources`` table.

    Each lookup is one indexed query, so that a source edited or removed through
    ``/api/sources`` takes effect at the next association.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def caller(self, ae_title: str) -> Caller | Rejection:
        """The caller for ``ae_title``, or why it is rejected."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(sources, accounts.c.state.label("account_state"))
                .join(accounts, accounts.c.pk == sources.c.account_pk)
                .where(sources.c.ae_title == ae_title)).first()
        if row is None:
            return Rejection(CALLING_AE_UNKNOWN,
                             f"calling AE title {ae_title!r} is not a registered source")
        if not row.active:
            return Rejection(CALLING_AE_UNKNOWN, f"source {row.pk} ({ae_title}) is inactive",
                             row.account_pk)
        if row.account_state not in OPEN_STATES:
            return Rejection(NO_REASON, f"the account of source {row.pk} ({ae_title}) is "
                                        f"{row.account_state}", row.account_pk)
        principal = Principal(
            user_pk=None, account_pk=row.account_pk, account_state=row.account_state,
            label=f"ae:{ae_title}", source_pk=row.pk, source_team_pk=row.team_pk,
            via="dimse", source_can_retrieve=bool(row.can_retrieve))
        return Caller(ae_title, principal)

    def destination(self, caller: Caller, ae_title: str) -> Destination | None:
        """The C-MOVE destination ``ae_title``: an active source of the caller's account
        with a host and port; None when there is none (status A801)."""
        if caller.principal is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(sources).where(
                sources.c.ae_title == ae_title, sources.c.active.is_(True),
                sources.c.account_pk == caller.principal.account_pk)).first()
        if row is None or not row.host or not row.port:
            return None
        return Destination(ae_title, row.host, int(row.port))


class AllowList:
    """The forwarder's gate: calling AE titles from configuration (empty: anyone)."""

    def __init__(self, titles: str) -> None:
        self.titles = frozenset(t for t in titles.replace(",", " ").split() if t)

    def caller(self, ae_title: str) -> Caller | Rejection:
        """The caller, or a rejection when a list is configured and lacks the title."""
        if self.titles and ae_title not in self.titles:
            return Rejection(CALLING_AE_UNKNOWN,
                             f"calling AE title {ae_title!r} is not in forward_allowed_aes")
        return Caller(ae_title)
