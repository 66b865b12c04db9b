"""Reports through the archive: lifecycle, e-signature, verification, exports, visibility."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pypdf
import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.people import PASSWORD, VALID_NPIS, Person, active_practice, add_member, stow
from tests.synth import make_patient, make_study
from tests.workbench.reports.conftest import MPI_VALUES
from workbench import cli
from workbench.reports.dicom_export import ENCAPSULATED_PDF

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
pytestmark = pytest.mark.slow  # a real server, several practices and members


@dataclass
class Site:
    archive: RunningArchive
    admin: Person
    physician: Person
    transcriptionist: Person
    referrer: Person
    outsider: Person
    study: str
    hidden: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    archive = start_archive(tmp_path_factory.mktemp("reports") / "data")
    try:
        admin = active_practice(archive, "admin@heart.example", practice="Heart Clinic")
        physician = add_member(archive, admin.headers, "reader@heart.example",
                               ["reading_physician"], npi=VALID_NPIS[2])
        typist = add_member(archive, admin.headers, "typist@heart.example", ["transcriptionist"])
        referrer = add_member(archive, admin.headers, "ref@heart.example",
                              ["referring_physician"])
        outsider = active_practice(archive, "admin@other.example", practice="Other",
                                   npi=VALID_NPIS[3])
        study = make_study(("NM",), seed=501, patient=make_patient(1, seed=50),
                           study_description="Myocardial perfusion stress/rest")
        hidden = make_study(("CT",), seed=502, patient=make_patient(2, seed=50))
        assert stow(archive, admin.headers, study).status_code == 200
        assert stow(archive, outsider.headers, hidden).status_code == 200
        uid = str(study[0].StudyInstanceUID)
        r = httpx.post(f"{archive.url}/api/shares", headers=admin.headers,
                       json={"study_uid": uid, "user_email": referrer.email})
        assert r.status_code == 201, r.text
        yield Site(archive, admin, physician, typist, referrer, outsider, uid,
                   str(hidden[0].StudyInstanceUID))
    finally:
        stop_archive(archive)


def _api(site: Site, who: Person) -> httpx.Client:
    return httpx.Client(base_url=f"{site.archive.url}/api", headers=who.headers, timeout=60)


def _new_report(site: Site) -> dict[str, Any]:
    with _api(site, site.physician) as api:
        r = api.post(f"/studies/{site.study}/reports", json={})
        assert r.status_code == 201, r.text
        report = r.json()
        r = api.put(f"/reports/{report['id']}", json={"values": MPI_VALUES,
                                                       "expected_version": 1})
        assert r.status_code == 200, r.text
        return dict(r.json())


def test_lifecycle_sign_and_verify(site: Site) -> None:
    report = _new_report(site)
    rid = report["id"]
    assert report["template"] == "nuclear-cardiology-mpi"  # chosen by modality/description
    assert report["status"] == "draft" and report["pending_version"] == 2
    with _api(site, site.physician) as api, _api(site, site.referrer) as referrer:
        assert referrer.get(f"/reports/{rid}").status_code == 404  # drafts stay internal
        assert api.put(f"/reports/{rid}", json={"values": {}, "expected_version": 1}
                       ).status_code == 409
        assert api.post(f"/reports/{rid}/preliminary").json()["status"] == "preliminary"
        seen = referrer.get(f"/reports/{rid}").json()
        assert seen["status"] == "preliminary"
        assert {v["state"] for v in seen["versions"]} == {"preliminary"}
        assert api.post(f"/reports/{rid}/sign", json={}).status_code == 403  # password
        assert api.post(f"/reports/{rid}/sign", json={"password": "wrong password!"}
                        ).status_code == 403
        with _api(site, site.transcriptionist) as typist:
            assert typist.post(f"/reports/{rid}/sign", json={"password": PASSWORD}
                               ).status_code == 403
        r = api.post(f"/reports/{rid}/sign", json={"password": PASSWORD})
        assert r.status_code == 200, r.text
        signed = r.json()
        assert signed["status"] == "final" and signed["pending_version"] is None
        assert set(signed["archived"]) == {"sr", "pdf"}, signed.get("archive_error")
        last = signed["versions"][-1]["signature"]
        assert last["signer_npi"] == VALID_NPIS[2] and last["meaning"] == "final"
        assert api.put(f"/reports/{rid}", json={"values": {}}).status_code == 409
        check = referrer.get(f"/reports/{rid}/verify").json()
        assert check["valid"] is True, check
        seen = referrer.get(f"/reports/{rid}").json()
        assert [v["state"] for v in seen["versions"]] == ["final"]
        listed = referrer.get(f"/studies/{site.study}/reports").json()
        assert [r["id"] for r in listed] == [rid]
    # SR and Encapsulated PDF were stored back into the study
    r = httpx.get(f"{site.archive.dicomweb}/studies/{site.study}/instances",
                  headers=site.admin.headers, params={"includefield": "00080016"})
    classes = {i["00080016"]["Value"][0] for i in r.json()}
    assert {COMPREHENSIVE_SR, ENCAPSULATED_PDF} <= classes


def test_exports_pdf_and_fhir(site: Site) -> None:
    report = _new_report(site)
    rid = report["id"]
    with _api(site, site.physician) as api:
        assert api.post(f"/reports/{rid}/sign", json={"password": PASSWORD}).status_code == 200
        pdf = api.get(f"/reports/{rid}/pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(
            io.BytesIO(pdf.content)).pages).split())
        assert "Heart Clinic" in text and "SSS 11" in text
        assert f"NPI {VALID_NPIS[2]}" in text and "Moderate reversible" in text
        fhir = api.get(f"/reports/{rid}/fhir")
        assert fhir.headers["content-type"].startswith("application/fhir+json")
        assert DiagnosticReport.model_validate(fhir.json()).status == "final"


def test_addendum_amendment_and_tampering(site: Site) -> None:
    rid = _new_report(site)["id"]
    with _api(site, site.physician) as api:
        assert api.post(f"/reports/{rid}/addenda", json={"text": "x"}).status_code == 409
        assert api.post(f"/reports/{rid}/sign", json={"password": PASSWORD}).status_code == 200
        r = api.post(f"/reports/{rid}/addenda", json={"text": "Compared with 2024: new."})
        assert r.status_code == 201 and r.json()["status"] == "final"
        assert api.post(f"/reports/{rid}/sign", json={"password": PASSWORD}
                        ).json()["status"] == "appended"
        amended = {**MPI_VALUES, "impression": "Mild reversible inferior ischaemia."}
        assert api.post(f"/reports/{rid}/amendments", json={"values": amended}
                        ).status_code == 422  # a reason is required
        r = api.post(f"/reports/{rid}/amendments", json={"values": amended,
                                                         "reason": "severity corrected"})
        assert r.status_code == 201, r.text
        final = api.post(f"/reports/{rid}/sign", json={"password": PASSWORD}).json()
        assert final["status"] == "amended"
        kinds = [(v["kind"], v["state"]) for v in final["versions"] if v["signature"]]
        assert kinds == [("original", "final"), ("addendum", "final"), ("amendment", "final")]
        assert api.get(f"/reports/{rid}/verify").json()["valid"]
    assert _cli_verify(site, rid) == 0
    db = sqlite3.connect(site.archive.data_dir / "index.sqlite")
    try:
        row = db.execute("SELECT v.pk, v.content_json FROM report_versions v JOIN reports r "
                         "ON r.pk = v.report_pk WHERE r.uid = ? AND v.signature_json IS NOT NULL "
                         "ORDER BY v.number LIMIT 1", (rid,)).fetchone()
        content = json.loads(row[1])
        content["values"]["impression"] = "No ischaemia."
        db.execute("UPDATE report_versions SET content_json = ? WHERE pk = ?",
                   (json.dumps(content), row[0]))
        db.commit()
    finally:
        db.close()
    with _api(site, site.physician) as api:
        check = api.get(f"/reports/{rid}/verify").json()
    assert check["valid"] is False and "content does not match" in check["summary"]
    assert _cli_verify(site, rid) == 3


def _cli_verify(site: Site, rid: str) -> int:
    """``workbench report verify`` (in this process: the CLI only loads server modules)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["report", "verify", rid, "--data-dir", str(site.archive.data_dir)])
    assert rid in out.getvalue() and "valid" in out.getvalue()
    return code


def test_visibility_and_permissions(site: Site) -> None:
    rid = _new_report(site)["id"]
    with _api(site, site.outsider) as outsider:
        assert outsider.get(f"/reports/{rid}").status_code == 404
        assert outsider.get(f"/reports/{rid}/pdf").status_code == 404
        assert outsider.get(f"/studies/{site.study}/reports").status_code == 404
    with _api(site, site.physician) as api:
        assert api.post(f"/studies/{site.hidden}/reports", json={}).status_code == 404
        assert api.post(f"/studies/{site.study}/reports",
                        json={"values": {"lvef": 150}}).status_code == 422
        assert api.post(f"/studies/{site.study}/reports",
                        json={"template": "addendum"}).status_code == 422
    with _api(site, site.referrer) as referrer:
        assert referrer.post(f"/studies/{site.study}/reports", json={}).status_code == 403
    office = add_member(site.archive, site.admin.headers, "office@heart.example",
                        ["administrator"])
    with _api(site, office) as admin:  # administrators do not write reports
        assert admin.put(f"/reports/{rid}", json={"values": {}}).status_code == 403
        assert admin.get(f"/reports/{rid}").status_code == 404  # drafts are the writers'
        assert admin.get(f"/studies/{site.study}/reports").status_code == 200


def test_preferences_templates_and_keys(site: Site) -> None:
    with _api(site, site.physician) as api:
        templates = {t["id"] for t in api.get("/report-templates").json()}
        assert templates == {"free-text", "general-radiology", "echocardiography",
                             "nuclear-cardiology-mpi"}
        mpi = api.get("/report-templates/nuclear-cardiology-mpi").json()
        assert any(f["type"] == "segment_scores" for s in mpi["sections"] for f in s["fields"])
        assert api.put("/me/report-preferences", json={"NM": "nope"}).status_code == 404
        assert api.put("/me/report-preferences", json={"nm": "free-text"}).json() == {
            "NM": "free-text"}
        r = api.post(f"/studies/{site.study}/reports", json={})
        assert r.json()["template"] == "free-text"
        api.put("/me/report-preferences", json={})
        rid = _new_report(site)["id"]
        assert api.post(f"/reports/{rid}/sign", json={"password": PASSWORD}).status_code == 200
        old = api.get("/me/signing-keys").json()
        new = api.post("/me/signing-keys").json()["key_id"]
        keys = api.get("/me/signing-keys").json()
        assert keys[0]["key_id"] == new and keys[0]["retired_at"] is None
        assert keys[1]["key_id"] == old[0]["key_id"] and keys[1]["retired_at"]
        assert api.get(f"/reports/{rid}/verify").json()["valid"]  # old key still verifies
        api.post(f"/reports/{rid}/addenda", json={"text": "after rotation"})
        signed = api.post(f"/reports/{rid}/sign", json={"password": PASSWORD}).json()
        assert signed["versions"][-1]["signature"]["key_id"] == new
        assert api.get(f"/reports/{rid}/verify").json()["valid"]
    keyring = site.archive.data_dir / "keys" / "signing-keyring.json"
    before = json.loads(keyring.read_text())
    assert cli.main(["report", "rotate-master-key", "--data-dir",
                     str(site.archive.data_dir)]) == 0
    after = json.loads(keyring.read_text())
    assert after["current"] != before["current"] and list(after["keys"]) == [after["current"]]
    with _api(site, site.physician) as api:
        api.post(f"/reports/{rid}/addenda", json={"text": "after master key rotation"})
        r = api.post(f"/reports/{rid}/sign", json={"password": PASSWORD})
        assert r.status_code == 200, r.text
        assert api.get(f"/reports/{rid}/verify").json()["valid"]
