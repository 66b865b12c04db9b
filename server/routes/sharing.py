"""Teams ("virtual workflow") and shares: who, beyond the account's members, sees a study.

- A team belongs to the account that created it; its administrators add users of any
  account by e-mail as *readers* (see what is shared with the team) or *senders* (may
  upload studies to the team, which are then shared with it).
- A share tags one study, or a whole patient folder, for one user or one team. Only the
  account that owns the study shares it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import Connection, delete, insert, or_, select

from server.auth.tokens import bump_generation, now_utc
from server.db.accounts import shares, team_members, teams, users
from server.db.engine import write_transaction
from server.db.models import patients, studies
from server.deps import IdField, IdPath, Myself, ServicesDep, Sharer, TeamsAdmin
from server.services.audit import AuditEvent
from workbench.errors import ConflictError, NotFoundError

router = APIRouter(tags=["Teams and sharing"])


class TeamIn(BaseModel):
    """A new team."""

    name: str = Field(min_length=1, max_length=200)


class TeamMemberIn(BaseModel):
    """A user (of any account) to add to a team."""

    email: str = Field(max_length=254)
    role: Literal["reader", "sender"]


class TeamOut(BaseModel):
    """A team with its members (e-mail, role)."""

    id: int
    name: str
    owner_account_id: int
    members: list[dict[str, str | int]]


class ShareIn(BaseModel):
    """What to share (a study, or a patient folder) with whom (a user or a team)."""

    study_uid: str | None = Field(default=None, max_length=64)
    patient_id: str | None = Field(default=None, max_length=64)
    issuer: str = Field(default="", max_length=64)
    user_email: str | None = Field(default=None, max_length=254)
    team_id: IdField | None = None

    @model_validator(mode="after")
    def _one_each(self) -> ShareIn:
        if (self.study_uid is None) == (self.patient_id is None):
            raise ValueError("give exactly one of study_uid and patient_id")
        if (self.user_email is None) == (self.team_id is None):
            raise ValueError("give exactly one of user_email and team_id")
        return self


class ShareOut(BaseModel):
    """A share as listed."""

    id: int
    study_uid: str | None
    patient_id: str | None
    issuer: str | None
    user_email: str | None
    team_id: int | None


def _team(conn: Connection, team_id: int, account_pk: int) -> Any:
    row = conn.execute(select(teams).where(teams.c.pk == team_id,
                                           teams.c.account_pk == account_pk)).first()
    if row is None:
        raise NotFoundError(f"no team {team_id} of your account")
    return row


def _team_out(conn: Connection, row: Any) -> TeamOut:
    members = conn.execute(select(users.c.pk, users.c.email, team_members.c.role)
                           .join(users, users.c.pk == team_members.c.user_pk)
                           .where(team_members.c.team_pk == row.pk)
                           .order_by(users.c.email)).fetchall()
    return TeamOut(id=row.pk, name=row.name, owner_account_id=row.account_pk,
                   members=[{"user_id": m.pk, "email": m.email, "role": m.role}
                            for m in members])


def _audit(services: Any, principal: Any, action: str, resource: str, study: str = "",
           detail: str = "") -> None:
    services.audit.record(AuditEvent(
        action, principal.label, "ok", resource=resource, study_uid=study,
        actor_user_pk=principal.user_pk, actor_account_pk=principal.account_pk,
        account_pk=principal.account_pk, detail=detail), wait=True)


@router.get("/teams", response_model=list[TeamOut], summary="Teams I own or belong to")
def list_teams(services: ServicesDep, principal: Myself) -> list[TeamOut]:
    """The caller's account's teams and the teams the caller is a member of."""
    mine = select(team_members.c.team_pk).where(team_members.c.user_pk == principal.user_pk)
    with services.engine.connect() as conn:
        rows = conn.execute(select(teams).where(or_(teams.c.account_pk == principal.account_pk,
                                                    teams.c.pk.in_(mine)))
                            .order_by(teams.c.pk)).fetchall()
        return [_team_out(conn, r) for r in rows]


@router.post("/teams", response_model=TeamOut, status_code=201, summary="Create a team")
def create_team(form: TeamIn, services: ServicesDep, principal: TeamsAdmin) -> TeamOut:
    """A new, empty team owned by the caller's account."""
    with write_transaction(services.engine) as conn:
        pk = conn.execute(insert(teams).values(account_pk=principal.account_pk, name=form.name,
                                               created_at=now_utc())).inserted_primary_key[0]  # type: ignore[index]
        out = _team_out(conn, _team(conn, int(pk), principal.account_pk))
    _audit(services, principal, "team-create", f"team:{pk}")
    return out


@router.post("/teams/{team_id}/members", response_model=TeamOut,
             summary="Add a user to a team")
def add_team_member(team_id: IdPath, form: TeamMemberIn, services: ServicesDep,
                    principal: TeamsAdmin) -> TeamOut:
    """Add a reader or sender, from this or a partner account, by e-mail."""
    email = form.email.strip().lower()
    with write_transaction(services.engine) as conn:
        row = _team(conn, team_id, principal.account_pk)
        user_pk = conn.execute(select(users.c.pk).where(users.c.email == email)).scalar()
        if user_pk is None:
            raise NotFoundError(f"no user with the e-mail address {email}")
        conn.execute(delete(team_members).where(team_members.c.team_pk == team_id,
                                                team_members.c.user_pk == user_pk))
        conn.execute(insert(team_members).values(team_pk=team_id, user_pk=user_pk,
                                                 role=form.role, created_at=now_utc()))
        bump_generation(conn)
        out = _team_out(conn, row)
    _audit(services, principal, "team-member-add", f"team:{team_id}", detail=form.role)
    return out


@router.delete("/teams/{team_id}/members/{user_id}", response_model=TeamOut,
               summary="Remove a user from a team")
def remove_team_member(team_id: IdPath, user_id: IdPath, services: ServicesDep,
                       principal: TeamsAdmin) -> TeamOut:
    """The user stops seeing the team's shares and uploading to it."""
    with write_transaction(services.engine) as conn:
        row = _team(conn, team_id, principal.account_pk)
        done = conn.execute(delete(team_members).where(team_members.c.team_pk == team_id,
                                                       team_members.c.user_pk == user_id))
        if not done.rowcount:
            raise NotFoundError(f"user {user_id} is not in team {team_id}")
        bump_generation(conn)
        out = _team_out(conn, row)
    _audit(services, principal, "team-member-remove", f"team:{team_id}")
    return out


def _share_out(row: Any) -> ShareOut:
    return ShareOut(id=row.pk, study_uid=row.study_uid, patient_id=row.patient_id,
                    issuer=row.issuer, user_email=row.email, team_id=row.team_pk)


_SHARES = (select(shares.c.pk, studies.c.study_uid, patients.c.patient_id, patients.c.issuer,
                  users.c.email, shares.c.team_pk, shares.c.account_pk)
           .outerjoin(studies, studies.c.pk == shares.c.study_pk)
           .outerjoin(patients, patients.c.pk == shares.c.patient_pk)
           .outerjoin(users, users.c.pk == shares.c.user_pk))


@router.get("/shares", response_model=list[ShareOut], summary="Shares of my account's studies")
def list_shares(services: ServicesDep, principal: Sharer,
                study_uid: str | None = Query(None, max_length=64)) -> list[ShareOut]:
    """Who, beyond the members, sees the account's studies and folders."""
    stmt = _SHARES.where(shares.c.account_pk == principal.account_pk).order_by(shares.c.pk)
    if study_uid is not None:
        stmt = stmt.where(studies.c.study_uid == study_uid)
    with services.engine.connect() as conn:
        return [_share_out(r) for r in conn.execute(stmt).fetchall()]


@router.post("/shares", response_model=ShareOut, status_code=201,
             summary="Share a study or a patient folder")
def share(form: ShareIn, services: ServicesDep, principal: Sharer) -> ShareOut:
    """Tag a study (or every study of a patient folder) for a recipient or a team."""
    with write_transaction(services.engine) as conn:
        study_pk = patient_pk = None
        if form.study_uid is not None:
            study_pk = conn.execute(select(studies.c.pk).where(
                studies.c.study_uid == form.study_uid,
                studies.c.account_pk == principal.account_pk)).scalar()
            if study_pk is None:
                raise NotFoundError(f"no study {form.study_uid} in your account")
        else:
            patient_pk = conn.execute(select(patients.c.pk).where(
                patients.c.account_pk == principal.account_pk,
                patients.c.patient_id == form.patient_id,
                patients.c.issuer == form.issuer)).scalar()
            if patient_pk is None:
                raise NotFoundError(f"no patient folder {form.patient_id!r} (issuer "
                                    f"{form.issuer!r}) in your account")
        user_pk = None
        if form.user_email is not None:
            user_pk = conn.execute(select(users.c.pk).where(
                users.c.email == form.user_email.strip().lower())).scalar()
            if user_pk is None:
                raise NotFoundError(f"no user with the e-mail address {form.user_email}")
        elif conn.execute(select(teams.c.pk).where(teams.c.pk == form.team_id)).first() is None:
            raise NotFoundError(f"no team {form.team_id}")
        duplicate = conn.execute(select(shares.c.pk).where(
            shares.c.study_pk.is_(study_pk) if study_pk is None else shares.c.study_pk == study_pk,
            shares.c.patient_pk.is_(None) if patient_pk is None
            else shares.c.patient_pk == patient_pk,
            shares.c.user_pk.is_(None) if user_pk is None else shares.c.user_pk == user_pk,
            shares.c.team_pk.is_(None) if form.team_id is None
            else shares.c.team_pk == form.team_id)).first()
        if duplicate is not None:
            raise ConflictError(f"this is shared already (share {duplicate.pk})")
        pk = conn.execute(insert(shares).values(
            account_pk=principal.account_pk, study_pk=study_pk, patient_pk=patient_pk,
            user_pk=user_pk, team_pk=form.team_id, created_by=principal.user_pk,
            created_at=now_utc())).inserted_primary_key[0]  # type: ignore[index]
        row = conn.execute(_SHARES.where(shares.c.pk == pk)).one()
    _audit(services, principal, "share", f"share:{pk}", study=form.study_uid or "",
           detail=f"user:{user_pk}" if user_pk else f"team:{form.team_id}")
    return _share_out(row)


@router.delete("/shares/{share_id}", summary="Stop sharing")
def unshare(share_id: IdPath, services: ServicesDep, principal: Sharer) -> dict[str, bool]:
    """Remove a share; the recipient stops seeing the study at once."""
    with write_transaction(services.engine) as conn:
        row = conn.execute(_SHARES.where(shares.c.pk == share_id,
                                         shares.c.account_pk == principal.account_pk)).first()
        if row is None:
            raise NotFoundError(f"no share {share_id} of your account")
        conn.execute(delete(shares).where(shares.c.pk == share_id))
    _audit(services, principal, "unshare", f"share:{share_id}", study=row.study_uid or "")
    return {"removed": True}
