"""Billing: prices, the ledger, monthly invoices and payments; month closing for staff.

Money is integer cents everywhere. Administrators see and pay their own account (also
while it is suspended: paying is how it becomes active again); staff see every account,
grant credits and close months.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from server.auth.permissions import Action, Principal
from server.db.accounts import accounts
from server.db.billing import ledger_entries
from server.deps import AccountReader, IdPath, OffsetQuery, ServicesDep, Staff, requires
from server.services import ledger, standing
from server.services.audit import AuditEvent
from workbench.billing import Invoice, Period

router = APIRouter(tags=["Billing"])
Biller = Annotated[Principal, Depends(requires(Action.BILLING))]
Cents = Annotated[int, Field(ge=1, le=10**10, description="integer cents")]
IdempotencyKey = Annotated[str, Field(
    min_length=1, max_length=150, pattern=r"^[\x21-\x7e]+$",
    description="chosen by the client; repeating a request with it changes nothing")]


class Prices(BaseModel):
    """The price table (cents)."""

    startup_fee: int
    study_flat: int
    study_by_modality: dict[str, int]
    toolset_fee: int
    storage_year: int
    minimum_monthly: int
    currency: str


class EntryOut(BaseModel):
    """One ledger entry; ``amount`` is signed cents (charges positive)."""

    id: int
    account_id: int
    at: datetime
    recorded_at: datetime
    kind: str
    amount: int
    reason: str
    study_uid: str
    idempotency_key: str
    actor: str
    reference: str


class LedgerPage(BaseModel):
    """A page of entries and the account's whole balance."""

    entries: list[EntryOut]
    balance: int
    next_offset: int | None


class Line(BaseModel):
    """An invoice line."""

    at: str
    kind: str
    amount: int
    reason: str
    study_uid: str


class InvoiceOut(BaseModel):
    """An account's month: lines, totals by kind, balances, minimum due and standing."""

    account_id: int
    account_name: str
    period: str
    opening_balance: int
    lines: list[Line]
    totals: dict[str, int]
    charges: int
    paid: int
    closing_balance: int
    minimum_due: int
    shortfall: int
    meets_minimum: bool
    studies: int


class PaymentIn(BaseModel):
    """Pay with the card on file: ``amount`` cents, or the whole balance when omitted."""

    amount: Cents | None = None
    idempotency_key: IdempotencyKey


class PaymentOut(BaseModel):
    """The payment recorded, the balance after it and whether the account is active again."""

    amount: int
    idempotency_key: str
    balance: int
    reactivated: bool
    repeated: bool
    account_state: str


class CreditIn(BaseModel):
    """A staff credit with the reason the account sees."""

    amount: Cents
    reason: str = Field(min_length=1, max_length=1000)
    idempotency_key: IdempotencyKey


class ClosingOut(BaseModel):
    """One account's standing for a closed month."""

    account_id: int
    period: str
    minimum_due: int
    paid: int
    met: bool
    suspended: bool


def naive_utc(moment: datetime | None) -> datetime | None:
    """A client's time as the index stores times: naive UTC (naive input is taken as UTC)."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _entry(row: Any) -> EntryOut:
    return EntryOut(id=row.pk, account_id=row.account_pk, at=row.at, recorded_at=row.recorded_at,
                    kind=row.kind, amount=row.amount_cents, reason=row.reason,
                    study_uid=row.study_uid, idempotency_key=row.idempotency_key,
                    actor=row.actor, reference=row.reference)


def _invoice(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut.model_validate(invoice.as_dict())


def _page(services: Any, account_pk: int, start: datetime | None, end: datetime | None,
          limit: int, offset: int) -> LedgerPage:
    ledger.ensure_startup_fees(services.engine, ledger.load_prices(services.settings), account_pk)
    start, end = naive_utc(start), naive_utc(end)
    stmt = select(ledger_entries).where(ledger_entries.c.account_pk == account_pk)
    if start is not None:
        stmt = stmt.where(ledger_entries.c.at >= start)
    if end is not None:
        stmt = stmt.where(ledger_entries.c.at < end)
    with services.engine.connect() as conn:
        rows = conn.execute(stmt.order_by(ledger_entries.c.at, ledger_entries.c.pk)
                            .limit(limit).offset(offset)).all()
        total = ledger.balance(conn, account_pk)
    return LedgerPage(entries=[_entry(r) for r in rows], balance=total,
                      next_offset=offset + limit if len(rows) == limit else None)


StartQuery = Annotated[datetime | None, Query(description="entries at or after (UTC)")]
EndQuery = Annotated[datetime | None, Query(description="entries before (UTC)")]
LimitQuery = Annotated[int, Query(ge=1, le=10000)]


@router.get("/billing/prices", response_model=Prices, summary="The price table")
def prices(services: ServicesDep, _reader: AccountReader) -> Prices:
    """Every price in cents: start-up, per study (flat and by modality), toolset, storage."""
    return Prices.model_validate(ledger.load_prices(services.settings).as_dict())


@router.get("/billing/ledger", response_model=LedgerPage, summary="My account's ledger")
def my_ledger(services: ServicesDep, principal: Biller, start: StartQuery = None,
              end: EndQuery = None, limit: LimitQuery = 1000, offset: OffsetQuery = 0,
              ) -> LedgerPage:
    """Entries oldest first, with the balance owed (negative: in credit)."""
    return _page(services, principal.account_pk, start, end, limit, offset)


@router.get("/billing/invoices/{period}", response_model=InvoiceOut,
            summary="My account's invoice for a month (YYYY-MM)")
def my_invoice(period: str, services: ServicesDep, principal: Biller) -> InvoiceOut:
    """Itemised lines, totals by kind, opening and closing balance, minimum due."""
    month = Period.parse(period)
    prices_now = ledger.load_prices(services.settings)
    ledger.ensure_startup_fees(services.engine, prices_now, principal.account_pk)
    with services.engine.connect() as conn:
        return _invoice(standing.invoice_for(conn, principal.account_pk, month, prices_now))


@router.post("/billing/payments", response_model=PaymentOut, status_code=201,
             summary="Pay with the card on file")
def pay(form: PaymentIn, services: ServicesDep, principal: Biller) -> PaymentOut:
    """Charge the card; a payment covering the unpaid minimum reactivates the account."""
    ledger.ensure_startup_fees(services.engine, ledger.load_prices(services.settings),
                               principal.account_pk)
    result = standing.pay(services.engine, services.payments, principal.account_pk,
                          form.amount, form.idempotency_key, principal.label)
    if not result.repeated:
        services.audit.record(AuditEvent(
            "payment", principal.label, "ok", resource=f"account:{principal.account_pk}",
            actor_user_pk=principal.user_pk, actor_account_pk=principal.account_pk,
            account_pk=principal.account_pk,
            detail=f"{result.cents} cents" + ("; reactivated" if result.reactivated else "")),
            wait=True)
    with services.engine.connect() as conn:
        state = conn.execute(select(accounts.c.state)
                             .where(accounts.c.pk == principal.account_pk)).scalar_one()
    return PaymentOut(amount=result.cents, idempotency_key=result.key, balance=result.balance,
                      reactivated=result.reactivated, repeated=result.repeated,
                      account_state=state)


@router.get("/staff/billing/ledger", response_model=LedgerPage,
            summary="An account's ledger (staff)")
def account_ledger(services: ServicesDep, _staff: Staff,
                   account_id: int = Query(ge=1, le=2**53), start: StartQuery = None,
                   end: EndQuery = None, limit: LimitQuery = 1000, offset: OffsetQuery = 0,
                   ) -> LedgerPage:
    """Any account's entries oldest first, with its balance."""
    return _page(services, account_id, start, end, limit, offset)


@router.get("/staff/billing/invoices/{period}", response_model=list[InvoiceOut],
            summary="Every account's invoice for a month (staff)")
def all_invoices(period: str, services: ServicesDep, _staff: Staff,
                 account_id: int | None = Query(None, ge=1, le=2**53)) -> list[InvoiceOut]:
    """Invoices of all accounts with ledger entries (or one), by account."""
    month = Period.parse(period)
    prices_now = ledger.load_prices(services.settings)
    ledger.ensure_startup_fees(services.engine, prices_now)
    with services.engine.connect() as conn:
        return [_invoice(i) for i in standing.invoices_for(conn, month, prices_now, account_id)]


@router.post("/staff/billing/accounts/{account_id}/credits", response_model=EntryOut,
             status_code=201, summary="Grant an account a credit (staff)")
def credit(account_id: IdPath, form: CreditIn, services: ServicesDep, staff: Staff) -> EntryOut:
    """Lower what the account owes; the reason appears on its invoice."""
    written = standing.grant_credit(services.engine, account_id, form.amount, form.reason,
                                    form.idempotency_key, staff.label)
    if written:
        services.audit.record(AuditEvent(
            "credit", staff.label, "ok", resource=f"account:{account_id}",
            actor_user_pk=staff.user_pk, actor_account_pk=staff.account_pk,
            account_pk=account_id, detail=f"{form.amount} cents: {form.reason}"), wait=True)
    with services.engine.connect() as conn:
        row = conn.execute(select(ledger_entries).where(
            ledger_entries.c.account_pk == account_id,
            ledger_entries.c.idempotency_key == f"credit:{form.idempotency_key}")).one()
    return _entry(row)


@router.post("/staff/billing/close/{period}", response_model=list[ClosingOut],
             summary="Close a month: suspend accounts short of the minimum (staff)")
def close(period: str, services: ServicesDep, staff: Staff) -> list[ClosingOut]:
    """Assess each billed account once per month; repeating the call changes nothing."""
    closings = standing.close_month(services.engine, Period.parse(period),
                                    ledger.load_prices(services.settings))
    for c in closings:
        if c.suspended:
            services.audit.record(AuditEvent(
                "account-suspended", staff.label, "ok", resource=f"account:{c.account_pk}",
                actor_user_pk=staff.user_pk, actor_account_pk=staff.account_pk,
                account_pk=c.account_pk,
                detail=f"{standing.SUSPENSION} for {c.period}: {c.paid} of {c.minimum_due} "
                       "cents paid"), wait=True)
    return [ClosingOut(account_id=c.account_pk, period=c.period, minimum_due=c.minimum_due,
                       paid=c.paid, met=c.met, suspended=c.suspended) for c in closings]
