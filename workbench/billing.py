"""Fee rules and invoices (PRODUCT.md, Fees): pure, money in integer cents.

Every price lives in one :class:`PriceTable`. The archive writes an append-only ledger of
:class:`LedgerEntry` values (charges positive, payments and credits negative) and this
module turns a month of it into an :class:`Invoice`: itemised lines, totals by kind,
opening and closing balance, and whether the month's payments met the minimum.

The Advanced Toolset fee applies once per study that contains a report, dictation audio,
an annotation, a key image or an uploaded document; ``workbench.toolset`` detects those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class EntryKind(StrEnum):
    """Why a ledger entry exists. Charges add to the balance; payments and credits lower it."""

    STARTUP = "startup"    # the one-time start-up fee, on activation
    STUDY = "study"        # a stored study, at the account's per-study price
    TOOLSET = "toolset"    # the Advanced Toolset fee of one study
    STORAGE = "storage"    # a paid storage extension of one study
    PAYMENT = "payment"    # money received through the payment provider
    CREDIT = "credit"      # a credit granted by staff


CHARGES = frozenset({EntryKind.STARTUP, EntryKind.STUDY, EntryKind.TOOLSET, EntryKind.STORAGE})
NON_IMAGING = frozenset({"SR", "KO", "PR", "DOC", "AU", "REG", "SEG", "RWV", "FID", "PLAN",
                         "RTRECORD", "RTPLAN", "RTDOSE", "RTSTRUCT", "ANN"})
"""Modalities of derived objects: they never set a study's price."""


@dataclass(frozen=True)
class PriceTable:
    """Every price of the service, in integer cents.

    Parameters
    ----------
    startup_fee
        One-time fee charged when an account is activated.
    study_flat
        Price of a stored study whose modalities are not in ``study_by_modality``.
    study_by_modality
        Per-study price by modality (``"CT"``, ``"MR"``...); a study with several imaging
        modalities pays the highest of their prices.
    toolset_fee
        Advanced Toolset fee, once per study that uses it.
    storage_year
        Price of keeping one study one more year beyond the included six months.
    minimum_monthly
        The least an account must pay in a month in which it owes at least that much.

    Examples
    --------
    >>> prices = PriceTable(study_flat=300, study_by_modality={"MR": 700})
    >>> prices.study_price(["MR", "SR"]), prices.study_price(["US"])
    (700, 300)
    """

    startup_fee: int = 5000
    study_flat: int = 500
    study_by_modality: Mapping[str, int] = field(default_factory=dict)
    toolset_fee: int = 100
    storage_year: int = 200
    minimum_monthly: int = 2500
    currency: str = "USD"

    def __post_init__(self) -> None:
        for name in ("startup_fee", "study_flat", "toolset_fee", "storage_year",
                     "minimum_monthly"):
            _check_cents(name, getattr(self, name))
        by_modality = {}
        for modality, cents in self.study_by_modality.items():
            if not re.fullmatch(r"[A-Z0-9]{1,16}", str(modality).upper()):
                raise ValueError(f"study_by_modality: {modality!r} is not a modality code")
            _check_cents(f"study_by_modality[{modality}]", cents)
            by_modality[str(modality).upper()] = cents
        object.__setattr__(self, "study_by_modality", MappingProxyType(by_modality))

    def study_price(self, modalities: Iterable[str]) -> int:
        """The price of one stored study holding ``modalities`` (derived objects ignored)."""
        prices = [self.study_by_modality[m] for m in {m.upper() for m in modalities}
                  if m not in NON_IMAGING and m in self.study_by_modality]
        return max(prices, default=self.study_flat)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PriceTable:
        """Build a table from configuration (unknown keys are an error, money is integers)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown price keys: {', '.join(sorted(unknown))}")
        return cls(**dict(data))

    def as_dict(self) -> dict[str, Any]:
        """The table as plain JSON-ready values."""
        return {"startup_fee": self.startup_fee, "study_flat": self.study_flat,
                "study_by_modality": dict(self.study_by_modality),
                "toolset_fee": self.toolset_fee, "storage_year": self.storage_year,
                "minimum_monthly": self.minimum_monthly, "currency": self.currency}


def _check_cents(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer number of cents; got {value!r}")


@dataclass(frozen=True)
class LedgerEntry:
    """One line of an account's ledger.

    ``amount_cents`` is signed: charges are positive, payments and credits negative
    (use :func:`signed_amount`). ``at`` is when the charge applies (naive UTC).
    """

    at: datetime
    kind: EntryKind
    amount_cents: int
    reason: str = ""
    study_uid: str = ""
    key: str = ""


def signed_amount(kind: EntryKind, cents: int) -> int:
    """The ledger amount of ``cents`` (> 0) for an entry of ``kind``.

    Examples
    --------
    >>> signed_amount(EntryKind.STUDY, 500), signed_amount(EntryKind.PAYMENT, 2500)
    (500, -2500)
    """
    if not isinstance(cents, int) or isinstance(cents, bool) or cents <= 0:
        raise ValueError(f"an amount must be a positive integer number of cents; got {cents!r}")
    return cents if kind in CHARGES else -cents


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, the billing period (``"2026-10"``)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 9999:
            raise ValueError(f"period must be a month YYYY-MM; got {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"2026-10"`` -> ``Period(2026, 10)`` (``ValueError`` otherwise)."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
        if match is None:
            raise ValueError(f"period must look like 2026-10; got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: datetime) -> Period:
        """The month ``moment`` falls in."""
        return cls(moment.year, moment.month)

    @property
    def start(self) -> datetime:
        """First instant of the month (naive UTC)."""
        return datetime(self.year, self.month, 1)

    @property
    def end(self) -> datetime:
        """First instant of the next month (exclusive end)."""
        return self.next().start

    def next(self) -> Period:
        """The following month."""
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        """The month before."""
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def minimum_due(owed_cents: int, minimum_cents: int) -> int:
    """What a month's payments must reach: the minimum, or less when less is owed.

    Examples
    --------
    >>> minimum_due(12000, 2500), minimum_due(700, 2500), minimum_due(-300, 2500)
    (2500, 700, 0)
    """
    return max(0, min(owed_cents, minimum_cents))


@dataclass(frozen=True)
class Invoice:
    """One account's month: itemised lines, totals, balance and payment standing."""

    account_pk: int
    account_name: str
    period: Period
    opening_balance: int
    lines: tuple[LedgerEntry, ...]
    totals: Mapping[str, int]
    closing_balance: int
    minimum_due: int
    paid: int

    @property
    def charges(self) -> int:
        """Sum of the month's charges."""
        return sum(v for k, v in self.totals.items() if k in CHARGES)

    @property
    def shortfall(self) -> int:
        """How much the month's payments fall short of the minimum (0 when met)."""
        return max(0, self.minimum_due - self.paid)

    @property
    def meets_minimum(self) -> bool:
        """Whether the month's payments reached the minimum due."""
        return self.shortfall == 0

    @property
    def studies(self) -> int:
        """Studies charged in the month."""
        return sum(1 for line in self.lines if line.kind is EntryKind.STUDY)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (amounts in cents, times ISO 8601)."""
        return {
            "account_id": self.account_pk, "account_name": self.account_name,
            "period": str(self.period), "opening_balance": self.opening_balance,
            "lines": [{"at": e.at.isoformat(), "kind": str(e.kind), "amount": e.amount_cents,
                       "reason": e.reason, "study_uid": e.study_uid} for e in self.lines],
            "totals": dict(self.totals), "charges": self.charges, "paid": self.paid,
            "closing_balance": self.closing_balance, "minimum_due": self.minimum_due,
            "shortfall": self.shortfall, "meets_minimum": self.meets_minimum,
            "studies": self.studies,
        }


def build_invoice(account_pk: int, account_name: str, period: Period,
                  entries: Iterable[LedgerEntry], prices: PriceTable, *,
                  opening_balance: int = 0) -> Invoice:
    """The invoice of one account for ``period``.

    Parameters
    ----------
    entries
        Ledger entries of the account, in any order; those before the period add to the
        opening balance, those after it are ignored.
    opening_balance
        Balance carried in from entries not passed (e.g. summed by the database).

    Examples
    --------
    >>> p = Period(2026, 10)
    >>> rows = [LedgerEntry(datetime(2026, 9, 30), EntryKind.STARTUP, 5000),
    ...         LedgerEntry(datetime(2026, 10, 2), EntryKind.STUDY, 500),
    ...         LedgerEntry(datetime(2026, 10, 9), EntryKind.PAYMENT, -2500)]
    >>> inv = build_invoice(7, "Clinic", p, rows, PriceTable())
    >>> inv.opening_balance, inv.closing_balance, inv.minimum_due, inv.meets_minimum
    (5000, 3000, 2500, True)
    """
    opening = opening_balance
    lines: list[LedgerEntry] = []
    for entry in entries:
        if entry.at < period.start:
            opening += entry.amount_cents
        elif entry.at < period.end:
            lines.append(entry)
    lines.sort(key=lambda e: (e.at, e.kind, e.study_uid))
    totals = {str(kind): 0 for kind in EntryKind}
    for line in lines:
        totals[str(line.kind)] += line.amount_cents
    credits = -totals[EntryKind.CREDIT]
    charges = sum(totals[str(k)] for k in CHARGES)
    owed = opening + charges - credits
    return Invoice(account_pk, account_name, period, opening, tuple(lines),
                   MappingProxyType(totals), opening + sum(totals.values()),
                   minimum_due(owed, prices.minimum_monthly), -totals[EntryKind.PAYMENT])


def invoice_from_dict(data: Mapping[str, Any], prices: PriceTable) -> Invoice:
    """Rebuild an invoice from :meth:`Invoice.as_dict` output (e.g. the archive's JSON).

    Totals, balances and the minimum due are recomputed from the lines and the opening
    balance, so ``invoice_from_dict(d, p).as_dict() == d`` checks the archive's figures.
    """
    lines = [LedgerEntry(datetime.fromisoformat(str(line["at"])), EntryKind(line["kind"]),
                         int(line["amount"]), str(line.get("reason", "")),
                         str(line.get("study_uid", ""))) for line in data["lines"]]
    return build_invoice(int(data["account_id"]), str(data["account_name"]),
                         Period.parse(str(data["period"])), lines, prices,
                         opening_balance=int(data["opening_balance"]))
