"""Accounts and who may see what: accounts, users, credentials, sources, teams, shares.

An *account* is a practice. Its *users* hold roles (``server/auth/permissions.py``).
Credentials are API tokens (a user's, or a source's upload key) and browser sessions;
only SHA-256 digests of their secrets are stored. A *source* is a sending site or
modality (AE title, upload key). A *team* connects users of different accounts
("virtual workflow"). A *share* tags a study or a whole patient folder for one user or
one team. The audit trail has its own module (``server/db/audit.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Boolean, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base


class Account(Base):
    """A practice: its state, why it is in that state, and its payment method."""

    __tablename__ = "accounts"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    npi: Mapped[str] = mapped_column(String(10), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending active ...
    state_reason: Mapped[str] = mapped_column(Text, default="")
    identity_verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    payment_token: Mapped[str] = mapped_column(String(200), default="")
    card_brand: Mapped[str] = mapped_column(String(32), default="")
    card_last4: Mapped[str] = mapped_column(String(4), default="")
    card_exp_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    card_exp_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payment_status: Mapped[str] = mapped_column(String(16), default="missing")
    payment_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class User(Base):
    """A member of an account (or a staff member of the workbench operator)."""

    __tablename__ = "users"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    roles: Mapped[str] = mapped_column(String(200), default="")  # space separated
    npi: Mapped[str] = mapped_column(String(10), default="")
    distribution: Mapped[str] = mapped_column(String(8), default="email")  # email fax both
    fax_number: Mapped[str] = mapped_column(String(32), default="")
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
    hub_username: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token: a user's (scoped, expiring, revocable) or a source's upload key."""

    __tablename__ = "api_tokens"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_pk: Mapped[int | None] = mapped_column(
        ForeignKey("users.pk", ondelete="CASCADE"), nullable=True, index=True)
    source_pk: Mapped[int | None] = mapped_column(
        ForeignKey("sources.pk", ondelete="CASCADE"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(100), default="read write admin")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Session(Base):
    """A browser session (cookie), with its CSRF token."""

    __tablename__ = "sessions"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class EmailToken(Base):
    """A single-use link sent by e-mail: confirm an address, or set a password."""

    __tablename__ = "email_tokens"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # confirm | password
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Source(Base):
    """A sending site or modality of an account."""

    __tablename__ = "sources"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="modality")  # modality | site
    ae_title: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    host: Mapped[str] = mapped_column(String(200), default="")
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)  # C-MOVE destination
    can_retrieve: Mapped[bool] = mapped_column(Boolean, default=False)  # C-FIND/MOVE/GET
    team_pk: Mapped[int | None] = mapped_column(
        ForeignKey("teams.pk", ondelete="SET NULL"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Team(Base):
    """Readers and senders of several accounts connected ("virtual workflow")."""

    __tablename__ = "teams"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class TeamMember(Base):
    """A user in a team: a reader sees what is shared with the team, a sender uploads to it."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_pk", "user_pk"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_pk: Mapped[int] = mapped_column(ForeignKey("teams.pk", ondelete="CASCADE"), index=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # reader | sender
    created_at: Mapped[datetime]


class Share(Base):
    """A study or a patient folder tagged for one user or one team."""

    __tablename__ = "shares"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"), index=True)
    study_pk: Mapped[int | None] = mapped_column(
        ForeignKey("studies.pk", ondelete="CASCADE"), nullable=True, index=True)
    patient_pk: Mapped[int | None] = mapped_column(
        ForeignKey("patients.pk", ondelete="CASCADE"), nullable=True, index=True)
    user_pk: Mapped[int | None] = mapped_column(
        ForeignKey("users.pk", ondelete="CASCADE"), nullable=True, index=True)
    team_pk: Mapped[int | None] = mapped_column(
        ForeignKey("teams.pk", ondelete="CASCADE"), nullable=True, index=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime]


class AuthState(Base):
    """One row: a counter bumped by every change to credentials, roles or account states.

    Server processes cache who a token belongs to and drop the cache when it changes.
    """

    __tablename__ = "auth_state"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


accounts = cast(Table, Account.__table__)
users = cast(Table, User.__table__)
api_tokens = cast(Table, ApiToken.__table__)
sessions = cast(Table, Session.__table__)
email_tokens = cast(Table, EmailToken.__table__)
sources = cast(Table, Source.__table__)
teams = cast(Table, Team.__table__)
team_members = cast(Table, TeamMember.__table__)
shares = cast(Table, Share.__table__)
auth_state = cast(Table, AuthState.__table__)
