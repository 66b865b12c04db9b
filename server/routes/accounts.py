"""Sign-up, e-mail confirmation, the account page, and staff decisions on accounts."""

from __future__ import annotations

from html import escape
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from server.auth.tokens import now_utc
from server.db.accounts import accounts
from server.db.engine import write_transaction
from server.deps import (
    AccountReader,
    AccountUpdater,
    IdPath,
    OffsetQuery,
    ServicesDep,
    Staff,
    public_base,
)
from server.services.accounts import (
    SignUp,
    account_row,
    change_state,
    confirm_email,
    pending_reasons,
    set_payment,
    sign_up,
)
from server.services.audit import AuditEvent
from server.services.ledger import charge_startup, load_prices
from workbench.errors import ConflictError

router = APIRouter(tags=["Accounts"])


class SignUpForm(BaseModel):
    """A practice signing up. ``payment_token`` comes from the payment provider's script."""

    practice_name: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    npi: str = Field(max_length=20)
    payment_token: str = Field(max_length=200)


class AccountStatus(BaseModel):
    """An account as its members (and staff) see it."""

    account_id: int
    name: str
    npi: str
    email: str
    state: str
    reasons: list[str]
    card_brand: str
    card_last4: str
    card_expiry: str


class PaymentUpdate(BaseModel):
    """A new tokenised payment method."""

    payment_token: str = Field(max_length=200)


class AccountUpdate(BaseModel):
    """Corrections an administrator can make while pending (or later)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    npi: str | None = Field(default=None, max_length=20)


class StateChange(BaseModel):
    """A staff decision: activate, suspend, reactivate (active) or close, with the reason."""

    state: Literal["active", "suspended", "closed", "pending"]
    reason: str = Field(default="", max_length=1000)


def _status(account: Any, primary: Any | None) -> AccountStatus:
    expiry = (f"{account.card_exp_month:02d}/{account.card_exp_year}"
              if account.card_exp_month else "")
    return AccountStatus(account_id=account.pk, name=account.name, npi=account.npi,
                         email=account.email, state=account.state,
                         reasons=pending_reasons(account, primary),
                         card_brand=account.card_brand, card_last4=account.card_last4,
                         card_expiry=expiry)


def _load(services: Any, account_pk: int) -> AccountStatus:
    with services.engine.connect() as conn:
        return _status(*account_row(conn, account_pk))


@router.post("/signup", response_model=AccountStatus, status_code=201,
             summary="Sign a practice up (the account starts pending)")
def signup(form: SignUpForm, request: Request, services: ServicesDep) -> AccountStatus:
    """Create a pending account and its primary administrator; e-mail a confirmation link."""
    with write_transaction(services.engine) as conn:
        account_pk, user_pk, secret = sign_up(conn, services.payments, SignUp(
            form.practice_name, form.name, form.email, form.password, form.npi,
            form.payment_token))
        status = _status(*account_row(conn, account_pk))
    link = f"{public_base(request)}/api/signup/confirm?token={secret}"
    services.mailer.send(status.email, "Confirm your workbench sign-up",
                         f"Welcome to workbench, {form.name}.\n\nConfirm your e-mail address "
                         f"by opening this link within 3 days:\n\n{link}\n\nYour account "
                         f"stays pending until staff have verified it.\n")
    services.audit.record(AuditEvent(
        "signup", status.email, "ok", resource=f"account:{account_pk}",
        actor_user_pk=user_pk, actor_account_pk=account_pk, account_pk=account_pk,
        remote=request.client.host if request.client else ""), wait=True)
    return status


@router.get("/signup/confirm", response_class=HTMLResponse, summary="Confirm an e-mail address")
def confirm(services: ServicesDep, token: str = Query(max_length=200)) -> HTMLResponse:
    """The link sent at sign-up: marks the address confirmed."""
    with write_transaction(services.engine) as conn:
        account_pk = confirm_email(conn, token)
        status = _status(*account_row(conn, account_pk))
    left = ("".join(f"<li>{escape(r)}</li>" for r in status.reasons)
            or "<li>nothing: it is active</li>")
    return HTMLResponse(
        "<!doctype html><meta charset='utf-8'><title>E-mail confirmed</title>"
        "<body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
        f"<h1>E-mail address confirmed</h1><p>Account state: <b>{status.state}</b>.</p>"
        f"<p>Still to do:</p><ul>{left}</ul><p><a href='/login'>Log in</a></p></body>")


@router.get("/account", response_model=AccountStatus, summary="My account and its state")
def my_account(services: ServicesDep, principal: AccountReader) -> AccountStatus:
    """State, what keeps it pending or why it is suspended, payment method on file."""
    return _load(services, principal.account_pk)


@router.patch("/account", response_model=AccountStatus, summary="Correct the account")
def update_account(form: AccountUpdate, services: ServicesDep, principal: AccountUpdater
                   ) -> AccountStatus:
    """Change the practice name or correct the NPI."""
    values: dict[str, Any] = form.model_dump(exclude_none=True)
    if values:
        with write_transaction(services.engine) as conn:
            conn.execute(update(accounts).where(accounts.c.pk == principal.account_pk)
                         .values(updated_at=now_utc(), **values))
    services.audit.record(AuditEvent(
        "account-update", principal.label, "ok", resource=f"account:{principal.account_pk}",
        actor_user_pk=principal.user_pk, actor_account_pk=principal.account_pk,
        account_pk=principal.account_pk, detail=",".join(sorted(values))), wait=True)
    return _load(services, principal.account_pk)


@router.put("/account/payment", response_model=AccountStatus,
            summary="Replace the payment method")
def update_payment(form: PaymentUpdate, services: ServicesDep, principal: AccountUpdater
                   ) -> AccountStatus:
    """Store a new tokenised payment method; the provider validates it."""
    with write_transaction(services.engine) as conn:
        set_payment(conn, services.payments, principal.account_pk, form.payment_token)
    services.audit.record(AuditEvent(
        "payment-method", principal.label, "ok", resource=f"account:{principal.account_pk}",
        actor_user_pk=principal.user_pk, actor_account_pk=principal.account_pk,
        account_pk=principal.account_pk), wait=True)
    return _load(services, principal.account_pk)


@router.get("/staff/accounts", response_model=list[AccountStatus],
            summary="All accounts (staff)")
def list_accounts(services: ServicesDep, _staff: Staff,
                  state: str | None = Query(None, description="only accounts in this state"),
                  limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0,
                  ) -> list[AccountStatus]:
    """Accounts with their states and reasons, oldest first."""
    stmt = select(accounts.c.pk).order_by(accounts.c.pk).limit(limit).offset(offset)
    if state is not None:
        stmt = stmt.where(accounts.c.state == state)
    with services.engine.connect() as conn:
        return [_status(*account_row(conn, pk)) for pk in conn.execute(stmt).scalars()]


@router.post("/staff/accounts/{account_id}/state", response_model=AccountStatus,
             summary="Activate, suspend or close an account (staff)")
def set_state(account_id: IdPath, change: StateChange, services: ServicesDep, staff: Staff
              ) -> AccountStatus:
    """Activating records that staff verified the applicant's identity.

    Staff do not change their own account's state (no one locks themselves out).
    """
    if account_id == staff.account_pk:
        raise ConflictError("staff do not change the state of their own account")
    with write_transaction(services.engine) as conn:
        change_state(conn, account_id, change.state, change.reason)
        if change.state == "active":  # the one-time start-up fee, at activation
            charge_startup(conn, account_id, load_prices(services.settings))
    services.audit.record(AuditEvent(
        f"account-{change.state}", staff.label, "ok", resource=f"account:{account_id}",
        actor_user_pk=staff.user_pk, actor_account_pk=staff.account_pk,
        account_pk=account_id, detail=change.reason), wait=True)
    return _load(services, account_id)
