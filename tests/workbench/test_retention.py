"""Retention rules from PRODUCT.md (Retention): 6 months included, up to 7 years, holds."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from workbench.documents import write_document
from workbench.retention import (
    INCLUDED_MONTHS,
    MAX_MONTHS,
    StorageTerm,
    TermStatus,
    add_months,
    expiring,
    extension_cost,
    primary_modality,
    quote_extension,
    storage_use,
)
from workbench.statements import retention_document

RECEIVED = datetime(2026, 1, 15, 10, 30)


def term(uid: str = "1.1", **kwargs: object) -> StorageTerm:
    values: dict[str, object] = {"account_pk": 1, "received_at": RECEIVED, **kwargs}
    return StorageTerm(uid, **values)  # type: ignore[arg-type]


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(datetime(2026, 8, 31), 6) == datetime(2027, 2, 28)
    assert add_months(datetime(2027, 8, 31), 6) == datetime(2028, 2, 29)  # leap year
    assert add_months(datetime(2026, 11, 30, 7), 3) == datetime(2027, 2, 28, 7)
    assert add_months(datetime(2026, 3, 31), -1) == datetime(2026, 2, 28)
    assert add_months(RECEIVED, 84) == datetime(2033, 1, 15, 10, 30)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
       st.integers(0, 200))
def test_add_months_moves_forward_by_whole_months(moment: datetime, months: int) -> None:
    later = add_months(moment, months)
    assert (later.year * 12 + later.month) - (moment.year * 12 + moment.month) == months
    assert later.day <= moment.day and later.time() == moment.time()


def test_six_months_are_included() -> None:
    t = term()
    assert t.paid_months == INCLUDED_MONTHS
    assert t.paid_until == datetime(2026, 7, 15, 10, 30)
    assert t.max_until == datetime(2033, 1, 15, 10, 30)


def test_status_and_the_purge_boundary() -> None:
    t = term()
    assert t.status(t.paid_until - timedelta(microseconds=1)) is TermStatus.PAID
    assert t.status(t.paid_until) is TermStatus.EXPIRED
    assert t.purgeable(t.paid_until) and not t.purgeable(RECEIVED)
    held = term(legal_hold=True)
    assert held.status(datetime(2040, 1, 1)) is TermStatus.HELD
    assert not held.purgeable(datetime(2040, 1, 1))  # a hold beats any date
    gone = term(purged_at=datetime(2026, 8, 1))
    assert gone.status(datetime(2026, 9, 1)) is TermStatus.PURGED and not gone.purgeable(
        datetime(2026, 9, 1))


def test_extensions_add_whole_years_up_to_seven() -> None:
    one = quote_extension(term(), 1, 200)
    assert (one.added_months, one.paid_months, one.cents) == (12, 18, 200)
    assert one.paid_until == datetime(2027, 7, 15, 10, 30)
    most = quote_extension(term(paid_months=18), 7, 200)
    assert (most.added_months, most.paid_months, most.cents) == (66, MAX_MONTHS, 1100)
    assert most.paid_until == term().max_until
    odd = quote_extension(term(paid_months=77), 1, 250)  # 7 months left, 145.8.. cents
    assert (odd.added_months, odd.cents) == (7, 146)  # rounded up to a whole cent


@pytest.mark.parametrize("years", [0, 8, -1, 1.5, True])
def test_extension_years_are_whole_and_at_most_seven(years: object) -> None:
    with pytest.raises(ValueError, match="years"):
        quote_extension(term(), years, 200)  # type: ignore[arg-type]


def test_no_extension_past_seven_years() -> None:
    with pytest.raises(ValueError, match="maximum of 7 years"):
        quote_extension(term(paid_months=MAX_MONTHS), 1, 200)


def test_expiring_lists_unheld_studies_soonest_first() -> None:
    as_of = datetime(2026, 7, 1)
    terms = [term("late", received_at=datetime(2026, 2, 20)),
             term("soon", received_at=datetime(2026, 1, 20)),
             term("overdue", received_at=datetime(2025, 12, 1)),
             term("held", received_at=datetime(2026, 1, 2), legal_hold=True),
             term("extended", received_at=datetime(2026, 1, 2), paid_months=18),
             term("gone", received_at=datetime(2025, 1, 1), purged_at=datetime(2025, 8, 1))]
    assert [t.study_uid for t in expiring(terms, as_of, 30)] == ["overdue", "soon"]
    assert [t.study_uid for t in expiring(terms, as_of, 60)] == ["overdue", "soon", "late"]


def test_storage_is_counted_under_the_primary_modality() -> None:
    assert primary_modality(["SR", "MR", "CT"]) == "CT"
    assert primary_modality(["KO", "SR"]) == "KO"
    terms = [term("a", size_bytes=100, modalities=("CT", "SR")),
             term("b", size_bytes=50, modalities=("CT",)),
             term("c", account_pk=2, size_bytes=7, modalities=("MR",)),
             term("d", size_bytes=1000, modalities=("CT",), purged_at=datetime(2026, 8, 1))]
    use = [(u.account_pk, u.modality, u.studies, u.size_bytes) for u in storage_use(terms)]
    assert use == [(1, "CT", 2, 150), (2, "MR", 1, 7)]


def test_the_cost_of_extending() -> None:
    terms = [term("a"), term("b", paid_months=MAX_MONTHS), term("c", paid_months=80)]
    assert extension_cost(terms, 1, 240) == {"a": 240, "c": 80}


def test_terms_from_the_archive_json() -> None:
    data = {"study_uid": "1.2", "account_id": 3, "received_at": "2026-01-15T10:30:00",
            "paid_months": 18, "legal_hold": True, "size_bytes": 99, "modalities": ["CT"],
            "purged_at": None, "paid_until": "2027-07-15T10:30:00"}
    t = StorageTerm.from_dict(data)
    assert t == StorageTerm("1.2", 3, RECEIVED, 18, True, 99, ("CT",))
    assert t.paid_until.isoformat() == data["paid_until"]


def test_the_retention_document(tmp_path: Path) -> None:
    as_of = datetime(2026, 7, 10)
    terms = [term("1.2.3.1", size_bytes=3 * 1024 * 1024, modalities=("CT",)),
             term("1.2.3.2", legal_hold=True, modalities=("MR",)),
             term("1.2.3.3", received_at=datetime(2026, 5, 1), modalities=("US",))]
    doc = retention_document(terms, as_of, 30, 200, would_purge=["1.2.3.1"])
    html, pdf = write_document(doc, tmp_path / "retention")
    text = "".join(p.extract_text() for p in PdfReader(pdf).pages)
    for expected in ("Retention report 2026-07-10", "Expiring within the horizon", "1.2.3.1",
                     "Under legal hold", "1.2.3.2", "Storage used by account and modality",
                     "3.0", "$2.00", "A purge now would delete 1 studies: 1.2.3.1"):
        assert expected in text, expected
    assert "1.2.3.3" not in text and "1.2.3.3" not in html.read_text()  # paid, not held
    assert "<td>US</td>" in html.read_text()  # but its storage is counted
