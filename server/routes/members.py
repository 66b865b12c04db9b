"""The account's members: added for free by administrators, with roles and preferences."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, insert, select, update

from server.auth.permissions import Role
from server.auth.tokens import bump_generation, now_utc
from server.db.accounts import users
from server.db.engine import write_transaction
from server.deps import IdPath, MembersAdmin, ServicesDep, Sharer, public_base
from server.services.accounts import issue_link, normalise_email
from server.services.audit import AuditEvent
from workbench.errors import ConflictError, NotFoundError
from workbench.npi import npi_problem

router = APIRouter(tags=["Members"])
Distribution = Literal["email", "fax", "both"]


class MemberIn(BaseModel):
    """A person to add. Reading physicians need an NPI; fax delivery needs a number."""

    email: str = Field(max_length=254)
    name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1)
    npi: str = Field(default="", max_length=20)
    distribution: Distribution = "email"
    fax_number: str = Field(default="", max_length=32)
    hub_username: str | None = Field(default=None, min_length=1, max_length=200, description=(
        "the person's JupyterHub user name: Hub tokens then authenticate as this member"))


class MemberPatch(BaseModel):
    """Changes to a member; omitted fields stay."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    roles: list[Role] | None = Field(default=None, min_length=1)
    npi: str | None = Field(default=None, max_length=20)
    distribution: Distribution | None = None
    fax_number: str | None = Field(default=None, max_length=32)
    hub_username: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None


class Member(BaseModel):
    """A member as listed."""

    id: int
    email: str
    name: str
    roles: list[str]
    npi: str
    distribution: str
    fax_number: str
    is_primary: bool
    active: bool
    email_confirmed: bool
    hub_username: str | None = None


def _member(row: Any) -> Member:
    return Member(id=row.pk, email=row.email, name=row.name, roles=row.roles.split(),
                  npi=row.npi, distribution=row.distribution, fax_number=row.fax_number,
                  is_primary=row.is_primary, active=row.active,
                  email_confirmed=row.email_confirmed_at is not None,
                  hub_username=row.hub_username)


def _check(roles: list[str], npi: str, distribution: str, fax: str) -> None:
    if Role.READING_PHYSICIAN in roles or npi:
        problem = npi_problem(npi)
        if problem:
            raise ValueError(f"{problem} (reading physicians need a valid NPI)")
    if distribution in ("fax", "both") and sum(c.isdigit() for c in fax) < 7:
        raise ValueError(f"distribution {distribution!r} needs a fax number; got {fax!r}")


def _hub_name_free(conn: Connection, name: str | None, member_pk: int | None) -> None:
    if name is None:
        return
    other = conn.execute(select(users.c.pk).where(users.c.hub_username == name)).scalar()
    if other is not None and other != member_pk:
        raise ConflictError(f"the JupyterHub user {name} is mapped to another member already")


@router.get("/members", response_model=list[Member], summary="The account's members")
def list_members(services: ServicesDep, principal: Sharer) -> list[Member]:
    """Everyone in the caller's account (to add, edit, or share studies with)."""
    with services.engine.connect() as conn:
        rows = conn.execute(select(users).where(users.c.account_pk == principal.account_pk)
                            .order_by(users.c.pk)).fetchall()
    return [_member(r) for r in rows]


@router.post("/members", response_model=Member, status_code=201, summary="Add a member")
def add_member(form: MemberIn, request: Request, services: ServicesDep,
               principal: MembersAdmin) -> Member:
    """Add a person (free); they receive an e-mail with a link to set their password."""
    email = normalise_email(form.email)
    roles = sorted({r.value for r in form.roles})
    _check(roles, form.npi, form.distribution, form.fax_number)
    with write_transaction(services.engine) as conn:
        if conn.execute(select(users.c.pk).where(users.c.email == email)).first():
            raise ConflictError(f"the e-mail address {email} already belongs to a user")
        _hub_name_free(conn, form.hub_username, None)
        pk = conn.execute(insert(users).values(
            account_pk=principal.account_pk, email=email, name=form.name.strip(),
            roles=" ".join(roles), npi=form.npi, distribution=form.distribution,
            fax_number=form.fax_number, hub_username=form.hub_username, created_at=now_utc(),
        )).inserted_primary_key[0]  # type: ignore[index]
        secret = issue_link(conn, int(pk), "password")
        row = conn.execute(select(users).where(users.c.pk == pk)).one()
    link = f"{public_base(request)}/login?set-password={secret}"
    services.mailer.send(email, "You were added to a workbench practice",
                         f"Hello {form.name},\n\nyou were added as {', '.join(roles)}. Set "
                         f"your password within 3 days with this link:\n\n{link}\n")
    services.audit.record(AuditEvent(
        "member-add", principal.label, "ok", resource=f"user:{pk}",
        actor_user_pk=principal.user_pk, actor_account_pk=principal.account_pk,
        account_pk=principal.account_pk, detail=" ".join(roles)), wait=True)
    return _member(row)


@router.patch("/members/{member_id}", response_model=Member, summary="Change a member")
def change_member(member_id: IdPath, form: MemberPatch, services: ServicesDep,
                  principal: MembersAdmin) -> Member:
    """Roles, NPI, distribution preferences, or deactivate (``active: false``)."""
    with write_transaction(services.engine) as conn:
        row = conn.execute(select(users).where(users.c.pk == member_id,
                                               users.c.account_pk == principal.account_pk)
                           ).first()
        if row is None:
            raise NotFoundError(f"no member {member_id} in your account")
        values: dict[str, Any] = form.model_dump(exclude_none=True)
        _hub_name_free(conn, values.get("hub_username"), member_id)
        if "roles" in values:
            values["roles"] = " ".join(sorted({r.value for r in form.roles or []}))
        merged = {**row._asdict(), **values}
        _check(merged["roles"].split(), merged["npi"], merged["distribution"],
               merged["fax_number"])
        if row.is_primary and (values.get("active") is False or (
                "roles" in values and Role.ADMINISTRATOR not in values["roles"].split())):
            raise ConflictError("the primary administrator stays an active administrator")
        conn.execute(update(users).where(users.c.pk == member_id).values(**values))
        bump_generation(conn)
        row = conn.execute(select(users).where(users.c.pk == member_id)).one()
    services.audit.record(AuditEvent(
        "member-change", principal.label, "ok", resource=f"user:{member_id}",
        actor_user_pk=principal.user_pk, actor_account_pk=principal.account_pk,
        account_pk=principal.account_pk, detail=",".join(sorted(values))), wait=True)
    return _member(row)
