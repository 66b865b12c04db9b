"""Invoices, payments, credits and account standing (PRODUCT.md, Accounts and Fees).

A closed month whose payments fall short of its minimum due suspends the account
(read-only, nothing deleted) with a reason starting :data:`SUSPENSION`; a later payment
that covers every shortfall reactivates it. Closing a month is a staff action, safe to
repeat: a month is closed once per account (``month_closings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from server.auth.tokens import now_utc
from server.db.accounts import accounts
from server.db.billing import ledger_entries, month_closings
from server.db.engine import write_transaction
from server.services import ledger
from server.services.accounts import change_state
from server.services.payments import PaymentProvider
from workbench.billing import EntryKind, Invoice, Period, PriceTable, build_invoice
from workbench.errors import ConflictError, NotFoundError

SUSPENSION = "the minimum monthly payment was not met"


def invoice_for(conn: Connection, account_pk: int, period: Period, prices: PriceTable
                ) -> Invoice:
    """One account's invoice for ``period`` (``NotFoundError`` for an unknown account)."""
    name = conn.execute(select(accounts.c.name).where(accounts.c.pk == account_pk)).scalar()
    if name is None:
        raise NotFoundError(f"no account {account_pk}")
    return build_invoice(account_pk, name, period,
                         ledger.entries(conn, account_pk, period.start, period.end), prices,
                         opening_balance=ledger.balance(conn, account_pk, period.start))


def invoices_for(conn: Connection, period: Period, prices: PriceTable,
                 account_pk: int | None = None) -> list[Invoice]:
    """Invoices of every account with ledger entries up to the end of ``period``.

    One query sums the opening balances and one reads the month's entries, so a month of
    a large ledger costs two scans of the ``at`` index.
    """
    scope = [ledger_entries.c.account_pk == account_pk] if account_pk is not None else []
    opening = dict(conn.execute(
        select(ledger_entries.c.account_pk, func.sum(ledger_entries.c.amount_cents))
        .where(ledger_entries.c.at < period.start, *scope)
        .group_by(ledger_entries.c.account_pk)).all())
    month: dict[int, list[Any]] = {}
    rows = conn.execute(select(ledger_entries).where(
        ledger_entries.c.at >= period.start, ledger_entries.c.at < period.end, *scope))
    for row in rows:
        month.setdefault(int(row.account_pk), []).append(ledger.to_entry(row))
    pks = sorted(set(opening) | set(month))
    names = dict(conn.execute(select(accounts.c.pk, accounts.c.name)
                              .where(accounts.c.pk.in_(pks))).all()) if pks else {}
    return [build_invoice(pk, names.get(pk, ""), period, month.get(pk, []), prices,
                          opening_balance=int(opening.get(pk, 0))) for pk in pks]


@dataclass(frozen=True)
class Closing:
    """The standing of one account for one closed month."""

    account_pk: int
    period: str
    minimum_due: int
    paid: int
    met: bool
    suspended: bool = False


def close_month(engine: Engine, period: Period, prices: PriceTable,
                now: datetime | None = None) -> list[Closing]:
    """Assess every billed, active or suspended account for ``period``; suspend short ones.

    Raises
    ------
    ValueError
        The month is not over yet.
    """
    now = now or now_utc()
    if period.end > now:
        raise ValueError(f"period {period} is not over yet; close it from {period.end:%Y-%m-%d}")
    results = []
    with write_transaction(engine) as conn:
        ledger.charge_pending_startups(conn, prices)
        rows = conn.execute(select(accounts.c.pk, accounts.c.state).where(
            accounts.c.identity_verified_at.is_not(None),
            accounts.c.identity_verified_at < period.end,
            accounts.c.state.in_(("active", "suspended"))).order_by(accounts.c.pk)).all()
        for pk, state in rows:
            done = conn.execute(select(month_closings).where(
                month_closings.c.account_pk == pk,
                month_closings.c.period == str(period))).first()
            if done is not None:
                results.append(Closing(pk, str(period), done.minimum_due, done.paid, done.met))
                continue
            invoice = invoice_for(conn, pk, period, prices)
            conn.execute(insert(month_closings).values(
                account_pk=pk, period=str(period), minimum_due=invoice.minimum_due,
                paid=invoice.paid, met=invoice.meets_minimum, closed_at=now))
            suspend = not invoice.meets_minimum and state == "active"
            if suspend:
                change_state(conn, pk, "suspended",
                             f"{SUSPENSION} for {period}: {invoice.paid / 100:.2f} paid of "
                             f"{invoice.minimum_due / 100:.2f} due; pay to reactivate")
            results.append(Closing(pk, str(period), invoice.minimum_due, invoice.paid,
                                   invoice.meets_minimum, suspend))
    return results


@dataclass(frozen=True)
class PaymentResult:
    """A payment written to the ledger (or found there under the same key)."""

    cents: int
    key: str
    balance: int
    reactivated: bool
    repeated: bool = False


def pay(engine: Engine, provider: PaymentProvider, account_pk: int, cents: int | None,
        key: str, actor: str) -> PaymentResult:
    """Charge the card on file and record the payment; reactivate when shortfalls are paid.

    ``cents`` None pays the whole balance. A repeated ``key`` returns the earlier payment
    without charging again (the provider also receives it as the charge reference).

    Raises
    ------
    ConflictError
        No usable payment method, nothing owed, or the provider declined.
    """
    entry_key = f"payment:{key}"
    with engine.connect() as conn:
        account = conn.execute(select(accounts).where(accounts.c.pk == account_pk)).first()
        if account is None:
            raise NotFoundError(f"no account {account_pk}")
        earlier = conn.execute(select(ledger_entries.c.amount_cents).where(
            ledger_entries.c.account_pk == account_pk,
            ledger_entries.c.idempotency_key == entry_key)).scalar()
        owed = ledger.balance(conn, account_pk)
    if earlier is not None:
        return PaymentResult(-int(earlier), key, owed, False, repeated=True)
    if cents is None:
        cents = owed
        if cents <= 0:
            raise ConflictError("nothing is owed: the balance is "
                                f"{owed / 100:.2f}; send an amount to pay in advance")
    if not account.payment_token:
        raise ConflictError("no payment method on file: add one on the account page")
    verdict = provider.charge(account.payment_token, cents, f"{account_pk}:{entry_key}")
    if not verdict.ok:
        raise ConflictError(f"the payment was declined: {verdict.reason}")
    with write_transaction(engine) as conn:
        ledger.append(conn, account_pk, EntryKind.PAYMENT, cents, key=entry_key, actor=actor,
                      reason=f"card payment ({account.card_brand} {account.card_last4})",
                      reference=f"{account_pk}:{entry_key}")
        reactivated = settle(conn, account_pk)
        owed = ledger.balance(conn, account_pk)
    return PaymentResult(cents, key, owed, reactivated)


def settle(conn: Connection, account_pk: int, now: datetime | None = None) -> bool:
    """Mark shortfalls covered by payments since their closing; reactivate when none is left.

    Returns
    -------
    bool
        Whether the account was suspended for non-payment and is active again.
    """
    now = now or now_utc()
    open_rows = conn.execute(select(month_closings).where(
        month_closings.c.account_pk == account_pk, month_closings.c.met.is_(False),
        month_closings.c.settled_at.is_(None)).order_by(month_closings.c.period)).all()
    if open_rows:
        paid_since = -int(conn.execute(select(
            func.coalesce(func.sum(ledger_entries.c.amount_cents), 0)).where(
            ledger_entries.c.account_pk == account_pk,
            ledger_entries.c.kind == str(EntryKind.PAYMENT),
            ledger_entries.c.recorded_at >= open_rows[0].closed_at)).scalar() or 0)
        needed = 0
        for row in open_rows:
            needed += row.minimum_due - row.paid
            if paid_since < needed:
                return False
            conn.execute(update(month_closings).where(month_closings.c.pk == row.pk)
                         .values(settled_at=now))
    account = conn.execute(select(accounts.c.state, accounts.c.state_reason)
                           .where(accounts.c.pk == account_pk)).first()
    if account is None or account.state != "suspended" \
            or not account.state_reason.startswith(SUSPENSION):
        return False
    change_state(conn, account_pk, "active")
    return True


def grant_credit(engine: Engine, account_pk: int, cents: int, reason: str, key: str,
                 actor: str) -> bool:
    """Write a staff credit (``reason`` is required); False when ``key`` was used."""
    if not reason.strip():
        raise ValueError("reason: say why the credit is granted; the account sees it")
    with write_transaction(engine) as conn:
        if conn.execute(select(accounts.c.pk).where(accounts.c.pk == account_pk)).first() is None:
            raise NotFoundError(f"no account {account_pk}")
        return ledger.append(conn, account_pk, EntryKind.CREDIT, cents, key=f"credit:{key}",
                             reason=reason.strip(), actor=actor)


def unsettled(conn: Connection, account_pk: int) -> list[str]:
    """Periods whose shortfall is not paid yet."""
    return list(conn.execute(select(month_closings.c.period).where(
        month_closings.c.account_pk == account_pk, month_closings.c.met.is_(False),
        month_closings.c.settled_at.is_(None)).order_by(month_closings.c.period)).scalars())
