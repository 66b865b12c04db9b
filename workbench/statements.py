"""The documents administrators produce: invoices, the month's summary, the retention report.

Each builder turns figures computed by :mod:`workbench.billing` and
:mod:`workbench.retention` into a :class:`workbench.documents.Document`; the notebooks in
``notebooks/`` write them as HTML and PDF. :func:`run_notebook` runs one of those
notebooks with papermill (``workbench billing run``, ``workbench retention report``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.billing import CHARGES, EntryKind, Invoice, Period
from workbench.documents import Chart, Document, Paragraph, Table, money
from workbench.retention import StorageTerm, expiring, quote_extension, storage_use

KIND_LABELS = {EntryKind.STARTUP: "Start-up fee", EntryKind.STUDY: "Stored studies",
               EntryKind.TOOLSET: "Advanced Toolset", EntryKind.STORAGE: "Storage extensions",
               EntryKind.PAYMENT: "Payments", EntryKind.CREDIT: "Credits"}
MB = 1024 * 1024


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def studies_per_day(invoices: Iterable[Invoice], period: Period) -> Chart:
    """Studies charged on each day of the period."""
    counts = Counter(line.at.day for inv in invoices for line in inv.lines
                     if line.kind is EntryKind.STUDY)
    days = (period.end - period.start).days
    return Chart("Studies per day", tuple(str(d) for d in range(1, days + 1)),
                 {"studies": tuple(float(counts.get(d, 0)) for d in range(1, days + 1))},
                 "studies")


def fees_by_kind(invoices: Iterable[Invoice]) -> Chart:
    """The period's charges by kind, in currency units."""
    totals = Counter[str]()
    for inv in invoices:
        totals.update({k: v for k, v in inv.totals.items() if k in CHARGES})
    kinds = [k for k in EntryKind if k in CHARGES]
    return Chart("Fees by kind", tuple(KIND_LABELS[k] for k in kinds),
                 {"amount": tuple(totals.get(str(k), 0) / 100 for k in kinds)}, "amount")


def invoice_document(invoice: Invoice, currency: str = "USD") -> Document:
    """One account's itemised invoice for a month."""
    def m(cents: int) -> str:
        return money(cents, currency)

    last_day = invoice.period.end - timedelta(days=1)
    summary = [("Opening balance", m(invoice.opening_balance))]
    for kind in EntryKind:
        count = sum(1 for line in invoice.lines if line.kind is kind)
        if count:
            summary.append((f"{KIND_LABELS[kind]} ({count})", m(invoice.totals[str(kind)])))
    summary += [("Closing balance", m(invoice.closing_balance)),
                ("Minimum payment due this month", m(invoice.minimum_due)),
                ("Paid this month", m(invoice.paid)),
                ("Standing", "minimum met" if invoice.meets_minimum
                 else f"short by {m(invoice.shortfall)}")]
    lines = tuple((_day(line.at), line.reason or KIND_LABELS[line.kind], line.study_uid,
                   m(line.amount_cents)) for line in invoice.lines)
    return Document(
        f"Invoice {invoice.period} - {invoice.account_name}",
        f"Account {invoice.account_pk}; period {_day(invoice.period.start)} to "
        f"{_day(last_day)}. Amounts in {currency}; charges positive, payments and credits "
        "negative.",
        (Table("Summary", ("Item", "Amount"), tuple(summary), frozenset({1})),
         Table("Invoice lines", ("Date", "Item", "Study", "Amount"), lines, frozenset({3}),
               ("", "Total this month", "", m(sum(li.amount_cents for li in invoice.lines)))),
         fees_by_kind([invoice]), studies_per_day([invoice], invoice.period)))


def billing_summary_document(invoices: Sequence[Invoice], period: Period,
                             currency: str = "USD") -> Document:
    """Every account's month in one table, with totals and charts."""
    def m(cents: int) -> str:
        return money(cents, currency)

    def credits(inv: Invoice) -> int:
        return inv.totals[str(EntryKind.CREDIT)]

    rows = tuple((str(i.account_pk), i.account_name, m(i.opening_balance), m(i.charges),
                  m(-i.paid), m(credits(i)), m(i.closing_balance), m(i.minimum_due),
                  "yes" if i.meets_minimum else "NO") for i in invoices)
    footer = ("", f"{len(invoices)} accounts", m(sum(i.opening_balance for i in invoices)),
              m(sum(i.charges for i in invoices)), m(-sum(i.paid for i in invoices)),
              m(sum(credits(i) for i in invoices)),
              m(sum(i.closing_balance for i in invoices)),
              m(sum(i.minimum_due for i in invoices)), "")
    short = sum(1 for i in invoices if not i.meets_minimum)
    return Document(
        f"Billing {period}", f"{len(invoices)} accounts, "
        f"{sum(i.studies for i in invoices)} studies charged, {short} short of the minimum.",
        (Table("Accounts", ("Account", "Name", "Opening", "Charges", "Payments", "Credits",
                            "Closing", "Minimum due", "Met"), rows,
               frozenset(range(2, 8)), footer),
         fees_by_kind(invoices), studies_per_day(invoices, period)))


def retention_document(terms: Sequence[StorageTerm], as_of: datetime, horizon_days: int,
                       storage_year_cents: int, years: int = 1, currency: str = "USD",
                       would_purge: Sequence[str] = ()) -> Document:
    """What expires within the horizon, what is held, storage used, cost of extending."""
    soon = expiring(terms, as_of, horizon_days)
    held = [t for t in terms if t.legal_hold and t.purged_at is None]
    use = storage_use(terms)
    costs = {t.study_uid: quote_extension(t, years, storage_year_cents).cents
             for t in soon if t.paid_months < 84}

    def row(t: StorageTerm) -> tuple[str, ...]:
        return (t.study_uid, str(t.account_pk), _day(t.received_at), _day(t.paid_until),
                f"{t.size_bytes / MB:.1f}", str(t.status(as_of)))

    head = ("Study", "Account", "Received", "Paid until", "Size (MB)", "Status")
    weeks = Counter(max(0, (t.paid_until - as_of).days) // 7 for t in soon)
    labels = tuple(f"wk {w + 1}" for w in range(horizon_days // 7 + 1))
    return Document(
        f"Retention report {_day(as_of)}",
        f"Horizon {horizon_days} days. {len(soon)} studies expire by "
        f"{_day(as_of + timedelta(days=horizon_days))}, {len(held)} under legal hold, "
        f"{sum(u.size_bytes for u in use) / MB:.1f} MB stored in {sum(u.studies for u in use)} "
        "studies.",
        (Table("Expiring within the horizon", (*head, f"Extend {years} y"),
               tuple((*row(t), money(costs[t.study_uid], currency) if t.study_uid in costs
                      else "at maximum") for t in soon), frozenset({4, 6}),
               ("", "", "", "", f"{sum(t.size_bytes for t in soon) / MB:.1f}", "",
                money(sum(costs.values()), currency))),
         Table("Under legal hold", head, tuple(row(t) for t in held), frozenset({4})),
         Table("Storage used by account and modality", ("Account", "Modality", "Studies",
                                                         "Size (MB)"),
               tuple((str(u.account_pk), u.modality or "-", str(u.studies),
                      f"{u.size_bytes / MB:.1f}") for u in use), frozenset({2, 3})),
         Chart("Storage by account and modality (MB)",
               tuple(f"{u.account_pk} {u.modality or '-'}" for u in use),
               {"MB": tuple(u.size_bytes / MB for u in use)}, "MB"),
         Chart("Studies expiring per week", labels,
               {"studies": tuple(float(weeks.get(w, 0)) for w in range(len(labels)))},
               "studies"),
         Paragraph(f"A purge now would delete {len(would_purge)} studies: "
                   + (", ".join(would_purge) if would_purge else "none") + ".")))


NOTEBOOKS = Path(os.environ.get("WORKBENCH_NOTEBOOKS",
                                Path(__file__).resolve().parent.parent / "notebooks"))


def run_notebook(name: str, output_dir: Path, parameters: Mapping[str, Any]) -> Path:
    """Execute ``notebooks/<name>.ipynb`` with papermill; the executed copy's path.

    The executed notebook is written into ``output_dir`` beside the documents it writes
    (``output_dir`` is also passed as a parameter).
    """
    try:
        import papermill
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("running notebooks needs papermill and ipykernel") from exc
    source = NOTEBOOKS / f"{name}.ipynb"
    if not source.exists():
        raise FileNotFoundError(f"{source} not found (set WORKBENCH_NOTEBOOKS)")
    output_dir.mkdir(parents=True, exist_ok=True)
    executed = output_dir / f"{name}.executed.ipynb"
    papermill.execute_notebook(str(source), str(executed),
                               parameters={**parameters, "output_dir": str(output_dir)},
                               cwd=str(output_dir), progress_bar=False)
    return executed
