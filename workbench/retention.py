"""Retention rules (PRODUCT.md, Retention): pure; dates naive UTC, money integer cents.

A study is kept :data:`INCLUDED_MONTHS` months from receipt; paid extensions lengthen
that in whole months up to :data:`MAX_MONTHS` (7 years) from receipt. A legal hold stops
deletion whatever the dates say. A study is *expired* from its paid-until instant on,
and only an expired study without a hold may be purged.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from workbench.billing import NON_IMAGING

INCLUDED_MONTHS = 6
MAX_MONTHS = 7 * 12


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus ``months`` calendar months, the day clamped to the month's length.

    Examples
    --------
    >>> add_months(datetime(2026, 8, 31, 9, 30), 6)
    datetime.datetime(2027, 2, 28, 9, 30)
    """
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


class TermStatus(StrEnum):
    """Where a study stands on a given day."""

    HELD = "held"          # legal hold: never purged
    PAID = "paid"          # within its paid (or included) storage
    EXPIRED = "expired"    # past paid-until, not held: the purge deletes it
    PURGED = "purged"      # its files are gone; a minimal record remains


@dataclass(frozen=True)
class StorageTerm:
    """What retention knows of one study.

    Parameters
    ----------
    received_at
        When the archive first stored the study (naive UTC).
    paid_months
        Months of storage from receipt: :data:`INCLUDED_MONTHS` plus paid extensions.
    modalities
        The study's modalities (for storage by modality).
    """

    study_uid: str
    account_pk: int
    received_at: datetime
    paid_months: int = INCLUDED_MONTHS
    legal_hold: bool = False
    size_bytes: int = 0
    modalities: tuple[str, ...] = ()
    purged_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StorageTerm:
        """A term from the archive's JSON (``/api/retention/studies``)."""
        purged = data.get("purged_at")
        return cls(str(data["study_uid"]), int(data["account_id"]),
                   datetime.fromisoformat(str(data["received_at"])), int(data["paid_months"]),
                   bool(data["legal_hold"]), int(data["size_bytes"]),
                   tuple(str(m) for m in data.get("modalities", ())),
                   datetime.fromisoformat(str(purged)) if purged else None)

    @property
    def paid_until(self) -> datetime:
        """The instant the study's storage ends (exclusive)."""
        return add_months(self.received_at, self.paid_months)

    @property
    def max_until(self) -> datetime:
        """The latest paid-until any extension can reach (7 years from receipt)."""
        return add_months(self.received_at, MAX_MONTHS)

    def status(self, as_of: datetime) -> TermStatus:
        """The study's standing at ``as_of``."""
        if self.purged_at is not None:
            return TermStatus.PURGED
        if self.legal_hold:
            return TermStatus.HELD
        return TermStatus.PAID if as_of < self.paid_until else TermStatus.EXPIRED

    def purgeable(self, as_of: datetime) -> bool:
        """Whether the purge may delete the study's files at ``as_of``."""
        return self.status(as_of) is TermStatus.EXPIRED


@dataclass(frozen=True)
class Extension:
    """A priced storage extension of one study."""

    added_months: int
    paid_months: int
    paid_until: datetime
    cents: int


def quote_extension(term: StorageTerm, years: int, storage_year_cents: int) -> Extension:
    """Price extending ``term`` by ``years``, capped at 7 years from receipt.

    A capped extension costs only the months it adds, at ``storage_year_cents / 12`` per
    month rounded up to a whole cent.

    Raises
    ------
    ValueError
        ``years`` is not 1 to 7, or the study is already paid to the maximum.

    Examples
    --------
    >>> term = StorageTerm("1.2.3", 1, datetime(2026, 1, 15))
    >>> quote_extension(term, 1, 200)
    Extension(added_months=12, paid_months=18, paid_until=datetime.datetime(2027, 7, 15, 0, 0), \
cents=200)
    >>> quote_extension(term, 7, 200).paid_months, quote_extension(term, 7, 200).cents
    (84, 1300)
    """
    if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 7:
        raise ValueError(f"years must be a whole number from 1 to 7; got {years!r}")
    if term.paid_months >= MAX_MONTHS:
        raise ValueError(f"study {term.study_uid} is paid to the maximum of 7 years "
                         f"(until {term.max_until:%Y-%m-%d})")
    added = min(12 * years, MAX_MONTHS - term.paid_months)
    months = term.paid_months + added
    cents = -(-storage_year_cents * added // 12)
    return Extension(added, months, add_months(term.received_at, months), cents)


def expiring(terms: Iterable[StorageTerm], as_of: datetime, horizon_days: int
             ) -> list[StorageTerm]:
    """Studies, not held and not purged, whose storage ends before ``as_of + horizon``.

    Already expired ones (not purged yet) are included; soonest first.
    """
    limit = as_of + timedelta(days=horizon_days)
    found = [t for t in terms if t.purged_at is None and not t.legal_hold
             and t.paid_until <= limit]
    return sorted(found, key=lambda t: (t.paid_until, t.study_uid))


def primary_modality(modalities: Iterable[str]) -> str:
    """The modality a study's storage is counted under: its first imaging modality.

    Examples
    --------
    >>> primary_modality(["SR", "MR", "CT"]), primary_modality(["SR"]), primary_modality([])
    ('CT', 'SR', '')
    """
    ordered = sorted({m.upper() for m in modalities if m})
    imaging = [m for m in ordered if m not in NON_IMAGING]
    return (imaging or ordered or [""])[0]


@dataclass(frozen=True)
class StorageUse:
    """Studies and bytes stored for one account and modality."""

    account_pk: int
    modality: str
    studies: int
    size_bytes: int


def storage_use(terms: Iterable[StorageTerm]) -> list[StorageUse]:
    """Storage held now (purged studies excluded) per account and primary modality."""
    totals: dict[tuple[int, str], list[int]] = {}
    for term in terms:
        if term.purged_at is not None:
            continue
        key = (term.account_pk, primary_modality(term.modalities))
        pair = totals.setdefault(key, [0, 0])
        pair[0] += 1
        pair[1] += term.size_bytes
    return [StorageUse(a, m, n, b) for (a, m), (n, b) in sorted(totals.items())]


def extension_cost(terms: Iterable[StorageTerm], years: int, storage_year_cents: int
                   ) -> dict[str, int]:
    """What extending each study by ``years`` would cost (studies at the maximum left out)."""
    costs = {}
    for term in terms:
        if term.purged_at is None and term.paid_months < MAX_MONTHS:
            costs[term.study_uid] = quote_extension(term, years, storage_year_cents).cents
    return costs
