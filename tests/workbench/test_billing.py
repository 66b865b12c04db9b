"""Fee rules from PRODUCT.md (Fees): prices, the Advanced Toolset, invoices, standing."""

from __future__ import annotations

import doctest
import importlib
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from workbench.billing import (
    EntryKind,
    LedgerEntry,
    Period,
    PriceTable,
    build_invoice,
    invoice_from_dict,
    minimum_due,
    signed_amount,
)
from workbench.documents import to_html, write_document
from workbench.statements import billing_summary_document, invoice_document
from workbench.toolset import UPLOAD_TYPE_FEATURES, ToolsetFeature, toolset_features

SOP = "1.2.840.10008.5.1.4.1.1."
CT_IMAGE = SOP + "2"
OCT = Period(2026, 10)


@pytest.mark.parametrize("name", ["workbench.billing", "workbench.toolset",
                                  "workbench.retention", "workbench.documents"])
def test_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_the_default_prices_are_the_published_ones() -> None:
    prices = PriceTable()
    assert (prices.startup_fee, prices.toolset_fee) == (5000, 100)  # $50 and $1


def test_study_price_flat_or_by_modality() -> None:
    prices = PriceTable(study_flat=400, study_by_modality={"mr": 900, "CT": 600})
    assert prices.study_by_modality == {"MR": 900, "CT": 600}
    assert prices.study_price(["US"]) == 400
    assert prices.study_price(["CT"]) == 600
    assert prices.study_price(["CT", "MR", "SR", "KO"]) == 900  # the dearest imaging modality
    assert prices.study_price(["SR"]) == 400  # derived objects alone: flat
    assert prices.study_price([]) == 400


@pytest.mark.parametrize("bad", [
    {"study_flat": 5.5}, {"startup_fee": -1}, {"toolset_fee": True}, {"tax": 3},
    {"study_by_modality": {"C T": 5}}, {"study_by_modality": {"CT": 1.0}},
])
def test_the_price_table_refuses_what_is_not_integer_cents(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PriceTable.from_mapping(bad)


def test_the_price_table_round_trips() -> None:
    prices = PriceTable(study_by_modality={"NM": 1500}, minimum_monthly=1000)
    assert PriceTable.from_mapping(prices.as_dict()) == prices


@pytest.mark.parametrize(("classes", "modalities", "expected"), [
    ([CT_IMAGE, SOP + "88.59"], ["CT", "KO"], {ToolsetFeature.KEY_IMAGE}),  # only a key image
    ([SOP + "104.1"], ["DOC"], {ToolsetFeature.DOCUMENT}),  # only an uploaded document
    ([CT_IMAGE], ["CT"], set()),  # nothing extra
    ([CT_IMAGE, SOP + "88.33"], ["CT", "SR"], {ToolsetFeature.REPORT}),
    ([SOP + "88.11"], [], {ToolsetFeature.REPORT}),
    ([CT_IMAGE, SOP + "88.67"], ["CT", "SR"], set()),  # the scanner's dose report
    ([SOP + "11.1"], ["PR"], {ToolsetFeature.ANNOTATION}),
    ([SOP + "11.4"], [], {ToolsetFeature.ANNOTATION}),
    ([SOP + "9.4.1"], ["AU"], {ToolsetFeature.DICTATION}),
    ([SOP + "9.1.1"], ["ECG"], set()),  # a waveform, not dictation
    ([SOP + "104.2"], [], {ToolsetFeature.DOCUMENT}),
    ([], ["KO"], {ToolsetFeature.KEY_IMAGE}),
    ([SOP + "88.59", SOP + "104.1", SOP + "11.1"], ["KO", "DOC", "PR"],
     {ToolsetFeature.KEY_IMAGE, ToolsetFeature.DOCUMENT, ToolsetFeature.ANNOTATION}),
])
def test_toolset_features(classes: list[str], modalities: list[str],
                          expected: set[ToolsetFeature]) -> None:
    assert toolset_features(classes, modalities) == expected


def test_uploads_that_use_the_toolset() -> None:
    assert UPLOAD_TYPE_FEATURES["document"] is ToolsetFeature.DOCUMENT
    assert UPLOAD_TYPE_FEATURES["scanned_document"] is ToolsetFeature.DOCUMENT
    assert UPLOAD_TYPE_FEATURES["audio"] is ToolsetFeature.DICTATION
    assert "image" not in UPLOAD_TYPE_FEATURES and "video" not in UPLOAD_TYPE_FEATURES


def test_signed_amounts() -> None:
    assert signed_amount(EntryKind.STORAGE, 200) == 200
    assert signed_amount(EntryKind.CREDIT, 700) == -700
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError):
            signed_amount(EntryKind.PAYMENT, bad)  # type: ignore[arg-type]


def test_periods() -> None:
    assert Period.parse("2026-10") == OCT
    assert (OCT.start, OCT.end) == (datetime(2026, 10, 1), datetime(2026, 11, 1))
    assert str(Period(2026, 12).next()) == "2027-01"
    assert str(Period(2026, 1).previous()) == "2025-12"
    assert Period.containing(datetime(2026, 10, 31, 23, 59)) == OCT
    for bad in ("2026-13", "2026-1", "Oct 2026", "2026-00"):
        with pytest.raises(ValueError):
            Period.parse(bad)


def test_minimum_due() -> None:
    assert minimum_due(10_000, 2500) == 2500
    assert minimum_due(999, 2500) == 999  # less owed than the minimum: what is owed
    assert minimum_due(0, 2500) == minimum_due(-400, 2500) == 0


def _entries() -> list[LedgerEntry]:
    return [
        LedgerEntry(datetime(2026, 9, 1, 8), EntryKind.STARTUP, 5000, "start-up fee"),
        LedgerEntry(datetime(2026, 9, 20), EntryKind.PAYMENT, -5000, "card payment"),
        LedgerEntry(datetime(2026, 10, 2, 9), EntryKind.STUDY, 500, "stored study (CT)", "1.1"),
        LedgerEntry(datetime(2026, 10, 2, 10), EntryKind.STUDY, 900, "stored study (MR)", "1.2"),
        LedgerEntry(datetime(2026, 10, 3), EntryKind.TOOLSET, 100, "Advanced Toolset", "1.2"),
        LedgerEntry(datetime(2026, 10, 9), EntryKind.STORAGE, 200, "storage extended", "1.1"),
        LedgerEntry(datetime(2026, 10, 15), EntryKind.CREDIT, -300, "goodwill"),
        LedgerEntry(datetime(2026, 10, 31, 23, 59), EntryKind.PAYMENT, -1000, "card payment"),
        LedgerEntry(datetime(2026, 11, 1), EntryKind.STUDY, 500, "next month", "1.3"),
    ]


def test_an_invoice_itemises_the_month() -> None:
    invoice = build_invoice(7, "Clinic", OCT, _entries(), PriceTable())
    assert invoice.opening_balance == 0
    assert [line.study_uid for line in invoice.lines if line.study_uid] == ["1.1", "1.2", "1.2",
                                                                              "1.1"]
    assert dict(invoice.totals) == {"startup": 0, "study": 1400, "toolset": 100, "storage": 200,
                                    "payment": -1000, "credit": -300}
    assert (invoice.charges, invoice.paid, invoice.closing_balance) == (1700, 1000, 400)
    assert invoice.studies == 2
    # owed 1700 - 300 credit = 1400 < 2500: the minimum is what was owed, 1000 paid
    assert (invoice.minimum_due, invoice.shortfall, invoice.meets_minimum) == (1400, 400, False)


def test_an_invoice_carries_the_balance_in() -> None:
    entries = _entries()
    september = build_invoice(7, "Clinic", Period(2026, 9), entries, PriceTable())
    october = build_invoice(7, "Clinic", OCT, entries, PriceTable())
    assert september.closing_balance == october.opening_balance == 0
    assert build_invoice(7, "Clinic", OCT, entries[2:], PriceTable(),
                         opening_balance=0) == october


def test_an_invoice_survives_json() -> None:
    invoice = build_invoice(7, "Clinic", OCT, _entries(), PriceTable())
    data = invoice.as_dict()
    assert invoice_from_dict(data, PriceTable()).as_dict() == data
    data["closing_balance"] += 1  # an archive that added wrongly is caught
    assert invoice_from_dict(data, PriceTable()).as_dict() != data


kinds = st.sampled_from(list(EntryKind))
moments = st.datetimes(min_value=datetime(2026, 8, 1), max_value=datetime(2026, 12, 31))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(moments, kinds, st.integers(1, 100_000)), max_size=40),
       st.randoms())
def test_balances_add_up_in_any_order(items: list[tuple[datetime, EntryKind, int]],
                                      rng: object) -> None:
    entries = [LedgerEntry(at, kind, signed_amount(kind, cents)) for at, kind, cents in items]
    invoice = build_invoice(1, "A", OCT, entries, PriceTable())
    shuffled = list(entries)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    again = build_invoice(1, "A", OCT, shuffled, PriceTable())
    assert replace(again, lines=()) == replace(invoice, lines=())
    assert sorted(again.lines, key=repr) == sorted(invoice.lines, key=repr)
    assert [line.at for line in invoice.lines] == sorted(line.at for line in invoice.lines)
    before = sum(e.amount_cents for e in entries if e.at < OCT.start)
    upto = sum(e.amount_cents for e in entries if e.at < OCT.end)
    assert (invoice.opening_balance, invoice.closing_balance) == (before, upto)
    assert 0 <= invoice.minimum_due <= PriceTable().minimum_monthly
    assert invoice.meets_minimum == (invoice.paid >= invoice.minimum_due)


def test_invoice_documents_hold_the_lines(tmp_path: Path) -> None:
    invoice = build_invoice(7, "Clinic", OCT, _entries(), PriceTable())
    html, pdf = write_document(invoice_document(invoice), tmp_path / "invoice")
    page = html.read_text()
    assert "stored study (MR)" in page and "$9.00" in page and "data:image/png;base64" in page
    text = "".join(p.extract_text() for p in PdfReader(pdf).pages)
    for expected in ("Invoice 2026-10 - Clinic", "stored study (CT)", "goodwill", "-$3.00",
                     "Closing balance", "$4.00", "short by $4.00", "Fees by kind"):
        assert expected in text, expected
    summary = to_html(billing_summary_document([invoice, invoice], OCT))
    assert "2 accounts" in summary and "$8.00" in summary


def test_long_invoices_run_over_pages(tmp_path: Path) -> None:
    start = datetime(2026, 10, 1)
    entries = [LedgerEntry(start + timedelta(hours=5 * i), EntryKind.STUDY, 500,
                           "stored study (CT)", f"2.25.{i}") for i in range(120)]
    invoice = build_invoice(1, "Busy", OCT, entries, PriceTable())
    _, pdf = write_document(invoice_document(invoice), tmp_path / "busy")
    pages = PdfReader(pdf).pages
    text = "".join(p.extract_text() for p in pages)
    assert len(pages) >= 3 and all(f"2.25.{i}\n" in text or f"2.25.{i} " in text
                                   for i in (0, 59, 119))
    assert "$600.00" in text
