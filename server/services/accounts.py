"""Account life: sign-up, e-mail confirmation, payment method, staff decisions.

States (PRODUCT.md, Accounts): ``pending`` until the e-mail address is confirmed, the
payment method is valid and staff verified the applicant's identity; then ``active``;
``suspended`` (read-only) when the minimum monthly payment is not met; ``closed`` by
staff. :func:`pending_reasons` says in the applicant's words what still keeps an account
pending; the reason of a suspension or closure is kept in ``state_reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from server.auth.passwords import hash_password, password_problem
from server.auth.permissions import Role
from server.auth.tokens import bump_generation, hash_token, new_secret, now_utc
from server.db.accounts import accounts, email_tokens, users
from server.services.payments import PaymentProvider
from workbench.errors import ConflictError, NotFoundError
from workbench.npi import npi_problem

LINK_VALID = timedelta(days=3)
STATES = ("pending", "active", "suspended", "closed")


@dataclass(frozen=True)
class SignUp:
    """What an applicant submits (the card itself went to the payment provider)."""

    practice_name: str
    name: str
    email: str
    password: str
    npi: str
    payment_token: str


def normalise_email(email: str) -> str:
    """Lower-cased, trimmed; ``ValueError`` when it is not an address."""
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain.strip(".") or " " in email or len(email) > 254:
        raise ValueError(f"{email!r} is not an e-mail address")
    return email


def pending_reasons(account: Any, primary: Any | None) -> list[str]:
    """Why an account is not (yet) active, in words the applicant can act on."""
    if account.state in ("suspended", "closed"):
        return [account.state_reason or f"the account is {account.state}"]
    if account.state == "active":
        return []
    reasons = []
    problem = npi_problem(account.npi)
    if problem:
        reasons.append(problem + "; correct it on the account page")
    if primary is not None and primary.email_confirmed_at is None:
        reasons.append(f"the e-mail address {primary.email} is not confirmed yet: follow the "
                       "link we sent")
    if account.payment_status != "valid":
        reasons.append(f"payment method: {account.payment_reason or 'none on file'}")
    if account.identity_verified_at is None:
        reasons.append("waiting for staff to verify the applicant's identity")
    return reasons


def set_payment(conn: Connection, provider: PaymentProvider, account_pk: int, token: str
                ) -> None:
    """Store a tokenised payment method and the provider's verdict on it."""
    try:
        method = provider.describe(token)
    except ValueError as exc:
        conn.execute(update(accounts).where(accounts.c.pk == account_pk).values(
            payment_token="", card_brand="", card_last4="", card_exp_month=None,
            card_exp_year=None, payment_status="invalid", payment_reason=str(exc),
            updated_at=now_utc()))
        return
    verdict = provider.validate(token)
    conn.execute(update(accounts).where(accounts.c.pk == account_pk).values(
        payment_token=method.token, card_brand=method.brand, card_last4=method.last4,
        card_exp_month=method.exp_month, card_exp_year=method.exp_year,
        payment_status="valid" if verdict.ok else "declined", payment_reason=verdict.reason,
        updated_at=now_utc()))


def issue_link(conn: Connection, user_pk: int, purpose: str) -> str:
    """A single-use secret for an e-mailed link (``confirm`` or ``password``)."""
    secret = new_secret()
    now = now_utc()
    conn.execute(insert(email_tokens).values(user_pk=user_pk, purpose=purpose,
                                             token_sha256=hash_token(secret), created_at=now,
                                             expires_at=now + LINK_VALID))
    return secret


def use_link(conn: Connection, secret: str, purpose: str) -> int:
    """Redeem an e-mailed link; the user's pk. ``NotFoundError`` if unknown/used/expired."""
    row = conn.execute(select(email_tokens).where(
        email_tokens.c.token_sha256 == hash_token(secret),
        email_tokens.c.purpose == purpose)).first()
    if row is None or row.used_at is not None or row.expires_at <= now_utc():
        raise NotFoundError("this link is unknown, already used or expired: ask for a new one")
    conn.execute(update(email_tokens).where(email_tokens.c.pk == row.pk)
                 .values(used_at=now_utc()))
    return int(row.user_pk)


def sign_up(conn: Connection, provider: PaymentProvider, form: SignUp) -> tuple[int, int, str]:
    """Create a pending account and its primary administrator.

    Returns
    -------
    (account pk, user pk, confirmation secret)
    """
    email = normalise_email(form.email)
    problem = password_problem(form.password)
    if problem:
        raise ValueError(problem)
    if not form.practice_name.strip():
        raise ValueError("practice_name must not be empty")
    if conn.execute(select(users.c.pk).where(users.c.email == email)).first() is not None:
        raise ConflictError(f"an account with the e-mail address {email} exists: log in or "
                            "reset the password")
    now = now_utc()
    account_pk = int(conn.execute(insert(accounts).values(
        name=form.practice_name.strip(), npi=form.npi.strip(), email=email, state="pending",
        created_at=now, updated_at=now)).inserted_primary_key[0])  # type: ignore[index]
    set_payment(conn, provider, account_pk, form.payment_token)
    user_pk = int(conn.execute(insert(users).values(
        account_pk=account_pk, email=email, name=form.name.strip(), npi=form.npi.strip(),
        roles=f"{Role.ADMINISTRATOR} {Role.READING_PHYSICIAN}", is_primary=True,
        password_hash=hash_password(form.password), created_at=now,
    )).inserted_primary_key[0])  # type: ignore[index]
    return account_pk, user_pk, issue_link(conn, user_pk, "confirm")


def account_row(conn: Connection, account_pk: int) -> tuple[Any, Any | None]:
    """The account and its primary administrator."""
    account = conn.execute(select(accounts).where(accounts.c.pk == account_pk)).first()
    if account is None:
        raise NotFoundError(f"no account {account_pk}")
    primary = conn.execute(select(users).where(users.c.account_pk == account_pk,
                                               users.c.is_primary.is_(True))).first()
    return account, primary


def change_state(conn: Connection, account_pk: int, state: str, reason: str = "") -> None:
    """Move an account to ``state`` (staff decisions and payment standing).

    Activation needs nothing pending except identity verification, which the staff
    member performing it vouches for.
    """
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}; got {state!r}")
    account, primary = account_row(conn, account_pk)
    if account.state == "closed" and state != "closed":
        raise ConflictError(f"account {account_pk} is closed; closing is final")
    now = now_utc()
    values: dict[str, Any] = {"state": state, "state_reason": reason, "updated_at": now}
    if state == "active":
        blocking = []
        if account.state == "pending":
            blocking = [r for r in pending_reasons(account, primary)
                        if not r.startswith("waiting for staff")]
        if blocking:
            raise ConflictError("cannot activate: " + "; ".join(blocking))
        values["identity_verified_at"] = account.identity_verified_at or now
        values["state_reason"] = ""
    elif state in ("suspended", "closed") and not reason:
        raise ValueError(f"say why the account is {state}: the applicant sees the reason")
    conn.execute(update(accounts).where(accounts.c.pk == account_pk).values(**values))
    bump_generation(conn)


def confirm_email(conn: Connection, secret: str) -> int:
    """Mark the address of the link's user confirmed; its account pk."""
    user_pk = use_link(conn, secret, "confirm")
    conn.execute(update(users).where(users.c.pk == user_pk).values(email_confirmed_at=now_utc()))
    account_pk = conn.execute(select(users.c.account_pk).where(users.c.pk == user_pk)).scalar()
    return int(account_pk or 0)


def expires(hours: float) -> datetime:
    """Now plus ``hours`` (naive UTC)."""
    return now_utc() + timedelta(hours=hours)
