"""The billing ledger on a running archive: fees, the toolset, invoices, payments, standing.

Charges are written by event handlers after ingest; :func:`barrier` waits until every
earlier event was handled (one worker thread handles them in order).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from server.db.accounts import accounts
from server.db.engine import make_engine, upgrade
from server.services import ledger as ledger_service
from server.services import standing
from server.services.payments import TestPaymentProvider
from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.billing_fixtures import (
    derived,
    entries_for,
    index,
    ledger,
    stamp,
    wait_for,
)
from tests.server.people import Person, active_practice, card_token, stow
from tests.synth import make_patient, make_study
from workbench.billing import Period, PriceTable

SEEDS = count(300)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArchive]:
    root = tmp_path_factory.mktemp("billing")
    prices = root / "prices.yaml"
    prices.write_text("study_flat: 500\nstudy_by_modality: {MR: 900}\ntoolset_fee: 100\n"
                      "minimum_monthly: 2500\nstorage_year: 200\n")
    running = start_archive(root / "data", WORKBENCH_PRICES_FILE=str(prices))
    yield running
    stop_archive(running)


@pytest.fixture(scope="module")
def practice(site: RunningArchive) -> Person:
    return active_practice(site, "admin@billing.example", practice="Billing clinic")


def new_study(site: RunningArchive, person: Person, modalities: tuple[str, ...] = ("CT",),
              extra: tuple[str, ...] = ()) -> str:
    """Store a small study with toolset objects of the given kinds; its UID."""
    seed = next(SEEDS)
    datasets = make_study(modalities, seed=seed, patient=make_patient(seed % 7, seed=seed))
    datasets += [derived(datasets[0], kind, seed) for kind in extra]
    r = stow(site, person.headers, datasets)
    assert r.status_code == 200, r.text
    return str(datasets[0].StudyInstanceUID)


def barrier(site: RunningArchive, person: Person) -> None:
    """Return once every event queued so far has been handled."""
    entries_for(site, person.headers, new_study(site, person))


def test_prices_come_from_the_configured_table(site: RunningArchive, practice: Person) -> None:
    prices = httpx.get(f"{site.url}/api/billing/prices", headers=practice.headers).json()
    assert prices["study_by_modality"] == {"MR": 900}
    assert (prices["startup_fee"], prices["study_flat"], prices["toolset_fee"]) == (5000, 500, 100)


def test_activation_charges_the_startup_fee_once(site: RunningArchive, practice: Person) -> None:
    ledger(site, practice.headers)
    startup = [e for e in ledger(site, practice.headers) if e["kind"] == "startup"]
    assert [(e["amount"], e["reason"]) for e in startup] == [(5000, "start-up fee")]
    with closing(index(site)) as conn:
        activated = conn.execute("SELECT identity_verified_at FROM accounts WHERE pk = ?",
                                 (practice.account_id,)).fetchone()[0]
    assert datetime.fromisoformat(str(startup[0]["at"])) == datetime.fromisoformat(activated)


def test_each_study_is_charged_once_at_its_modality_price(site: RunningArchive,
                                                           practice: Person) -> None:
    ct = new_study(site, practice, ("CT",))
    mr = new_study(site, practice, ("MR",))
    both = new_study(site, practice, ("CT", "MR"))
    amounts = {uid: [e["amount"] for e in entries_for(site, practice.headers, uid)]
               for uid in (ct, mr, both)}
    assert amounts == {ct: [500], mr: [900], both: [900]}
    # the same study again (identical instances) and a further series: no second charge
    seed = 777
    again = make_study(("CT",), seed=seed, patient=make_patient(1, seed=seed), study_uid=ct)
    assert stow(site, practice.headers, again).status_code == 200
    barrier(site, practice)
    assert [e["kind"] for e in ledger(site, practice.headers) if e["study_uid"] == ct] == ["study"]


@pytest.mark.parametrize(("extra", "charged"), [
    (("KO",), "key image"), (("PDF",), "uploaded document"), (("SR",), "report"),
    (("GSPS",), "annotation"), (("AUDIO",), "dictation audio"), ((), None), (("DOSE",), None),
    (("KO", "GSPS", "PDF"), "annotation, key image, uploaded document"),
])
def test_toolset_fee_only_for_studies_with_toolset_content(
        site: RunningArchive, practice: Person, extra: tuple[str, ...], charged: str | None
) -> None:
    study = new_study(site, practice, ("CT",), extra)
    entries_for(site, practice.headers, study)
    barrier(site, practice)
    toolset = [e for e in ledger(site, practice.headers)
               if e["study_uid"] == study and e["kind"] == "toolset"]
    if charged is None:
        assert toolset == []
    else:
        assert [e["amount"] for e in toolset] == [100]
        assert str(toolset[0]["reason"]).startswith("Advanced Toolset")
        assert all(word in str(toolset[0]["reason"]) for word in charged.split(", "))


def test_toolset_content_added_later_is_charged_once(site: RunningArchive,
                                                      practice: Person) -> None:
    seed = next(SEEDS)
    datasets = make_study(("CT",), seed=seed, patient=make_patient(2, seed=seed))
    assert stow(site, practice.headers, datasets).status_code == 200
    study = str(datasets[0].StudyInstanceUID)
    for n, kind in enumerate(("KO", "GSPS", "KO")):
        assert stow(site, practice.headers, [derived(datasets[0], kind, seed * 10 + n)]
                    ).status_code == 200
    entries = entries_for(site, practice.headers, study, count=2)
    barrier(site, practice)
    kinds = sorted(str(e["kind"]) for e in ledger(site, practice.headers)
                   if e["study_uid"] == study)
    assert kinds == ["study", "toolset"], entries


def test_an_uploaded_document_charges_the_toolset(site: RunningArchive, practice: Person) -> None:
    study = new_study(site, practice, ("CT",))
    r = httpx.post(f"{site.url}/api/media", headers=practice.headers,
                   data={"study_uid": study, "upload_type": "document"},
                   files=[("files", ("referral.pdf", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"))],
                   timeout=60)
    assert r.status_code == 201, r.text
    toolset = entries_for(site, practice.headers, study, count=2)
    assert sorted(str(e["kind"]) for e in toolset) == ["study", "toolset"]


def test_the_ledger_is_append_only(site: RunningArchive, practice: Person) -> None:
    ledger(site, practice.headers)
    with closing(index(site)) as conn:
        for sql in ("UPDATE ledger_entries SET amount_cents = 0", "DELETE FROM ledger_entries"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)


def test_the_invoice_equals_the_ledger(site: RunningArchive, practice: Person) -> None:
    new_study(site, practice, ("MR",), ("KO",))
    barrier(site, practice)
    month = Period.containing(datetime.now(UTC).replace(tzinfo=None))
    r = httpx.get(f"{site.url}/api/billing/invoices/{month}", headers=practice.headers)
    assert r.status_code == 200, r.text
    invoice = r.json()
    page = httpx.get(f"{site.url}/api/billing/ledger", headers=practice.headers).json()
    entries = page["entries"]
    assert [(line["kind"], line["amount"], line["study_uid"]) for line in invoice["lines"]] == \
        [(e["kind"], e["amount"], e["study_uid"]) for e in entries]
    assert invoice["closing_balance"] == page["balance"] == sum(e["amount"] for e in entries)
    assert invoice["totals"]["study"] == sum(e["amount"] for e in entries if e["kind"] == "study")
    assert invoice["studies"] == sum(1 for e in entries if e["kind"] == "study")
    assert httpx.get(f"{site.url}/api/billing/invoices/2026-13",
                     headers=practice.headers).status_code == 422


def test_payments_are_idempotent_and_declines_are_refused(site: RunningArchive,
                                                          practice: Person) -> None:
    url = f"{site.url}/api/billing/payments"
    body = {"amount": 1000, "idempotency_key": "p1"}
    first = httpx.post(url, headers=practice.headers, json=body)
    again = httpx.post(url, headers=practice.headers, json=body)
    assert first.status_code == again.status_code == 201, first.text
    assert (first.json()["repeated"], again.json()["repeated"]) == (False, True)
    payments = [e for e in ledger(site, practice.headers) if e["kind"] == "payment"]
    assert [e["amount"] for e in payments] == [-1000]
    broke = active_practice(site, "broke@billing.example", practice="Declined clinic",
                            npi="1003000126")
    r = httpx.put(f"{site.url}/api/account/payment", headers=broke.headers,
                  json={"payment_token": card_token("4000000000000002")})
    assert r.status_code == 200, r.text
    r = httpx.post(url, headers=broke.headers, json={"idempotency_key": "p2"})
    assert r.status_code == 409 and "declined" in r.text
    assert [e["kind"] for e in ledger(site, broke.headers)] == ["startup"]


def test_staff_credits(site: RunningArchive, practice: Person) -> None:
    url = f"{site.url}/api/staff/billing/accounts/{practice.account_id}/credits"
    body = {"amount": 700, "reason": "goodwill: scanner outage", "idempotency_key": "c1"}
    assert httpx.post(url, headers=practice.headers, json=body).status_code == 403
    first = httpx.post(url, headers=site.headers, json=body)
    again = httpx.post(url, headers=site.headers, json=body)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json() == again.json()
    assert (first.json()["amount"], first.json()["kind"]) == (-700, "credit")
    assert httpx.post(url, headers=site.headers, json={**body, "reason": ""}).status_code == 422
    staff_view = httpx.get(f"{site.url}/api/staff/billing/ledger", headers=site.headers,
                           params={"account_id": practice.account_id}).json()
    assert staff_view["entries"] == httpx.get(f"{site.url}/api/billing/ledger",
                                              headers=practice.headers).json()["entries"]


def test_a_month_short_of_the_minimum_suspends_and_payment_reactivates(
        site: RunningArchive) -> None:
    person = active_practice(site, "late@billing.example", practice="Late clinic",
                             npi="1760571632")
    now = datetime.now(UTC).replace(tzinfo=None)
    last = Period.containing(now).previous()
    with closing(index(site)) as conn:  # activated last month, a study charged then
        conn.execute("UPDATE accounts SET identity_verified_at = ? WHERE pk = ?",
                     (stamp(last.start + timedelta(hours=1)), person.account_id))
        conn.execute(
            "INSERT INTO ledger_entries (account_pk, at, recorded_at, kind, amount_cents, reason,"
            " study_uid, idempotency_key, actor, reference) VALUES (?, ?, ?, 'study', 3000,"
            " 'stored study (CT)', '1.2.3.4', 'test:backdated', '', '')",
            (person.account_id, stamp(last.start + timedelta(days=2)), stamp(now)))
    staff = site.headers
    assert httpx.post(f"{site.url}/api/staff/billing/close/{Period.containing(now)}",
                      headers=staff).status_code == 422  # not over yet
    closing_rows = httpx.post(f"{site.url}/api/staff/billing/close/{last}", headers=staff).json()
    mine = [c for c in closing_rows if c["account_id"] == person.account_id]
    assert mine == [{"account_id": person.account_id, "period": str(last), "minimum_due": 2500,
                     "paid": 0, "met": False, "suspended": True}]
    account = httpx.get(f"{site.url}/api/account", headers=person.headers).json()
    assert account["state"] == "suspended" and "minimum monthly payment" in account["reasons"][0]
    study = make_study(("CT",), seed=4242, patient=make_patient(3, seed=4242))
    assert stow(site, person.headers, study).status_code == 403  # read-only
    assert httpx.get(f"{site.url}/api/billing/invoices/{last}",
                     headers=person.headers).json()["shortfall"] == 2500
    paid = httpx.post(f"{site.url}/api/billing/payments", headers=person.headers,
                      json={"idempotency_key": "catch-up"})
    assert paid.status_code == 201, paid.text
    assert paid.json()["reactivated"] and paid.json()["account_state"] == "active"
    assert paid.json()["balance"] == 0
    wait_for(lambda: stow(site, person.headers, study).status_code == 200, what="store again")
    again = httpx.post(f"{site.url}/api/staff/billing/close/{last}", headers=staff).json()
    assert [c["suspended"] for c in again if c["account_id"] == person.account_id] == [False]


def test_a_report_written_in_the_archive_charges_the_toolset_once(site: RunningArchive,
                                                                   practice: Person) -> None:
    study = new_study(site, practice, ("CT",))
    entries_for(site, practice.headers, study)
    for _ in range(2):
        r = httpx.post(f"{site.url}/api/studies/{study}/reports", headers=practice.headers,
                       json={}, timeout=60)
        assert r.status_code == 201, r.text
    entries_for(site, practice.headers, study, count=2)
    barrier(site, practice)
    kinds = [(e["kind"], e["reason"]) for e in ledger(site, practice.headers)
             if e["study_uid"] == study]
    assert kinds == [("study", "stored study (CT)"), ("toolset", "Advanced Toolset: report")]


def test_standing_in_process(tmp_path: Path) -> None:
    """The same services on a fresh index, without an archive process."""
    engine = make_engine(f"sqlite:///{tmp_path / 'index.sqlite'}")
    upgrade(engine)
    january = datetime(2026, 1, 1)
    token = TestPaymentProvider.tokenize("4242424242424242", 12, 2031)
    with engine.begin() as conn:
        conn.execute(insert(accounts).values(
            pk=5, name="In process", npi="", email="", state="active", state_reason="",
            identity_verified_at=january, payment_token=token, card_brand="visa",
            card_last4="4242", payment_status="valid", payment_reason="", created_at=january,
            updated_at=january))
    try:
        prices = PriceTable()
        ledger_service.ensure_startup_fees(engine, prices)
        ledger_service.ensure_startup_fees(engine, prices)
        closings = standing.close_month(engine, Period(2026, 1), prices)
        assert closings == [standing.Closing(5, "2026-01", 2500, 0, False, True)]
        assert standing.close_month(engine, Period(2026, 1), prices)[0].suspended is False
        paid = standing.pay(engine, TestPaymentProvider(), 5, 2000, "part", "test")
        assert (paid.reactivated, paid.balance) == (False, 3000)  # 2000 < 2500 short
        paid = standing.pay(engine, TestPaymentProvider(), 5, None, "rest", "test")
        assert (paid.reactivated, paid.balance) == (True, 0)
        with engine.connect() as conn:
            assert standing.unsettled(conn, 5) == []
            invoice = standing.invoices_for(conn, Period(2026, 1), prices)[0]
            assert (invoice.opening_balance, invoice.closing_balance) == (0, 5000)
            now = standing.invoice_for(conn, 5, Period.containing(datetime.now(UTC)
                                                                  .replace(tzinfo=None)), prices)
            assert now.paid == 5000 and now.opening_balance == 5000
    finally:
        engine.dispose()
