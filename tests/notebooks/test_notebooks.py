"""The administrators' notebooks, executed by papermill against a real, seeded archive.

Two practices store studies (one with key images, one with only an uploaded document, one
with nothing extra), pay, hold a study and let another expire; the billing notebook must
invoice exactly the ledger and put every invoice line into the PDF; the retention notebook
must list what expires, what is held and what a purge would delete.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import papermill
import pytest
from pypdf import PdfReader

from tests.conftest import ROOT, RunningArchive, start_archive, stop_archive
from tests.server.billing_fixtures import backdate_study, derived, entries_for
from tests.server.people import Person, active_practice, stow
from tests.synth import make_patient, make_study
from workbench.billing import Period

NOTEBOOKS = ROOT / "notebooks"
pytestmark = pytest.mark.slow  # each run starts a kernel (a few seconds)


@dataclass
class Seeded:
    """The seeded archive and what is in it."""

    site: RunningArchive
    a: Person
    b: Person
    studies: dict[str, str]  # what -> Study Instance UID


def _store(site: RunningArchive, person: Person, seed: int, extra: tuple[str, ...] = (),
           only_extra: bool = False) -> str:
    datasets = make_study(("CT",), seed=seed, patient=make_patient(seed % 3, seed=seed))
    objects = [derived(datasets[0], kind, seed) for kind in extra]
    assert stow(site, person.headers, objects if only_extra else datasets + objects
                ).status_code == 200
    uid = str(datasets[0].StudyInstanceUID)
    entries_for(site, person.headers, uid, count=1 + bool(extra))
    return uid


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    site = start_archive(tmp_path_factory.mktemp("notebooks") / "data")
    try:
        a = active_practice(site, "admin@nb-a.example", practice="Notebook Clinic A")
        b = active_practice(site, "admin@nb-b.example", practice="Notebook Clinic B",
                            npi="1003000126")
        studies = {"plain": _store(site, a, 11), "key images": _store(site, a, 12, ("KO",)),
                   "document only": _store(site, a, 13, ("PDF",), only_extra=True),
                   "held": _store(site, a, 14), "expired": _store(site, b, 15)}
        r = httpx.post(f"{site.url}/api/billing/payments", headers=a.headers,
                       json={"amount": 3000, "idempotency_key": "nb-1"})
        assert r.status_code == 201, r.text
        r = httpx.put(f"{site.url}/api/retention/studies/{studies['held']}/hold",
                      headers=a.headers, json={"reason": "litigation"})
        assert r.status_code == 200, r.text
        backdate_study(site, studies["expired"], days=200)
        yield Seeded(site, a, b, studies)
    finally:
        stop_archive(site)


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_billing_notebook_invoices_the_ledger(seeded: Seeded, tmp_path: Path) -> None:
    site = seeded.site
    month = Period.containing(datetime.now(UTC).replace(tzinfo=None))
    papermill.execute_notebook(
        str(NOTEBOOKS / "billing.ipynb"), str(tmp_path / "executed.ipynb"),
        parameters={"archive_url": site.url, "token": site.token, "period": str(month),
                    "output_dir": str(tmp_path)}, cwd=str(tmp_path), progress_bar=False)
    record = json.loads((tmp_path / "invoice.json").read_text())
    assert record["period"] == str(month)
    invoices = {i["account_id"]: i for i in record["invoices"]}
    assert set(invoices) == {seeded.a.account_id, seeded.b.account_id}
    for person in (seeded.a, seeded.b):
        page = httpx.get(f"{site.url}/api/staff/billing/ledger", headers=site.headers,
                         params={"account_id": person.account_id}).json()
        invoice = invoices[person.account_id]
        assert invoice["closing_balance"] == page["balance"]  # totals equal the ledger
        assert sum(invoice["totals"].values()) == sum(e["amount"] for e in page["entries"])
        assert [line["amount"] for line in invoice["lines"]] == \
            [e["amount"] for e in page["entries"]]
        stem = tmp_path / f"invoice-{month}-account-{person.account_id}"
        text = _pdf_text(stem.with_suffix(".pdf"))
        assert stem.with_suffix(".html").read_text().count("<tr>") >= len(invoice["lines"])
        for line in invoice["lines"]:  # the PDF has every invoice line
            assert line["reason"] in text
            assert not line["study_uid"] or line["study_uid"] in text
    a = invoices[seeded.a.account_id]
    assert a["totals"]["toolset"] == 200  # the key-image study and the document-only one
    assert a["totals"]["payment"] == -3000 and a["totals"]["startup"] == 5000
    summary = _pdf_text(tmp_path / f"billing-{month}.pdf")
    assert "Notebook Clinic A" in summary and "Studies per day" in summary
    assert (tmp_path / f"billing-{month}.html").exists()


def test_an_administrator_runs_billing_for_their_own_account(seeded: Seeded,
                                                             tmp_path: Path) -> None:
    month = Period.containing(datetime.now(UTC).replace(tzinfo=None))
    run = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "billing", "run", "--url", seeded.site.url,
         "--token", seeded.a.token, "--own", "--period", str(month), "--output",
         str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "invoice.json").read_text())
    assert [i["account_id"] for i in record["invoices"]] == [seeded.a.account_id]
    assert (tmp_path / f"invoice-{month}-account-{seeded.a.account_id}.pdf").exists()


def test_retention_notebook_reports_expiry_holds_and_storage(seeded: Seeded,
                                                             tmp_path: Path) -> None:
    site = seeded.site
    run = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "retention", "report", "--url", site.url,
         "--token", site.token, "--horizon", "30", "--output", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "retention.json").read_text())
    expired, held = seeded.studies["expired"], seeded.studies["held"]
    assert [e["study_uid"] for e in record["expiring"]] == [expired]
    assert record["held"] == [held]
    assert record["would_purge"] == [expired]  # a dry run: still stored
    assert httpx.get(f"{site.dicomweb}/studies/{expired}/metadata",
                     headers=seeded.b.headers).status_code == 200
    storage = {(s["account_id"], s["modality"]): s["studies"] for s in record["storage"]}
    assert storage == {(seeded.a.account_id, "CT"): 3, (seeded.a.account_id, "DOC"): 1,
                       (seeded.b.account_id, "CT"): 1}
    day = datetime.fromisoformat(record["as_of"]).strftime("%Y-%m-%d")
    text = _pdf_text(tmp_path / f"retention-{day}.pdf")
    for expected in (expired, held, "Under legal hold", "Storage used by account and modality",
                     "Studies expiring per week", "A purge now would delete 1 studies"):
        assert expected in text, expected
    assert (tmp_path / f"retention-{day}.html").exists()
    assert (tmp_path / "retention.executed.ipynb").exists()


def test_administrators_run_the_notebooks_from_the_app(seeded: Seeded) -> None:
    site, a = seeded.site, seeded.a
    month = str(Period.containing(datetime.now(UTC).replace(tzinfo=None)))
    started = httpx.post(f"{site.url}/api/notebook-runs", headers=a.headers,
                         json={"notebook": "billing", "period": month})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 180
    while True:
        runs = httpx.get(f"{site.url}/api/notebook-runs", headers=a.headers).json()
        run = next(r for r in runs if r["id"] == run_id)
        if run["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert run["status"] == "done", run["error"]
    invoice = f"invoice-{month}-account-{a.account_id}.pdf"
    assert invoice in run["files"] and "invoice.json" in run["files"]
    got = httpx.get(f"{site.url}/api/notebook-runs/{run_id}/files/{invoice}",
                    headers=a.headers)
    assert got.status_code == 200 and got.content.startswith(b"%PDF")
    assert "Notebook Clinic A" in "\n".join(
        p.extract_text() for p in PdfReader(io.BytesIO(got.content)).pages)
    record = httpx.get(f"{site.url}/api/notebook-runs/{run_id}/files/invoice.json",
                       headers=a.headers).json()
    assert [i["account_id"] for i in record["invoices"]] == [a.account_id]
    # another account sees neither the run nor its files; the run's token is gone
    assert httpx.get(f"{site.url}/api/notebook-runs", headers=seeded.b.headers).json() == []
    assert httpx.get(f"{site.url}/api/notebook-runs/{run_id}/files/{invoice}",
                     headers=seeded.b.headers).status_code == 404
    tokens = httpx.get(f"{site.url}/api/tokens", headers=a.headers).json()
    assert all(t["revoked_at"] for t in tokens if t["name"] == "notebook run")
