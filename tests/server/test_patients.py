"""Patient folders: studies found together by ID and issuer, conflicts flagged, not merged."""

from __future__ import annotations

from dicomweb_client.api import DICOMwebClient

from tests.conftest import RunningArchive
from tests.synth import make_ct


def test_folder_collects_studies_and_flags_conflicts(archive: RunningArchive) -> None:
    client = DICOMwebClient(archive.dicomweb, headers=archive.headers)
    first = make_ct(n=1, seed=301, rows=16, columns=16)[0]
    second = make_ct(n=1, seed=302, rows=16, columns=16)[0]
    third = make_ct(n=1, seed=303, rows=16, columns=16)[0]
    for ds in (first, second, third):
        ds.PatientID = "FOLDER-1"
        ds.IssuerOfPatientID = "HOSP"
        ds.PatientName = "Rossi^Maria"
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "F"
    second.StudyDate = "20200101"
    third.PatientBirthDate = "19710101"  # same ID, different birth date
    third.PatientName = "ROSSI^MARIA"  # case alone is not a conflict
    client.store_instances([first, second, third])
    with archive.http() as http:
        folder = http.get("/api/patients/FOLDER-1", params={"issuer": "HOSP"}).json()
        assert folder["name"] == "Rossi^Maria"
        assert folder["num_studies"] == 3
        assert {s["study_uid"] for s in folder["studies"]} == {
            first.StudyInstanceUID, second.StudyInstanceUID, third.StudyInstanceUID}
        assert folder["has_conflicts"] is True
        assert folder["conflicts"] == [{
            "study_uid": third.StudyInstanceUID, "attribute": "PatientBirthDate",
            "expected": "19700101", "received": "19710101"}]
        # the conflicting study keeps its own demographics in QIDO
        found = http.get("/dicom-web/studies",
                         params={"StudyInstanceUID": third.StudyInstanceUID}).json()
        assert found[0]["00100030"]["Value"] == ["19710101"]
        flagged = http.get("/api/patients", params={"conflicts": "true"}).json()
        assert "FOLDER-1" in {p["patient_id"] for p in flagged}
        other_issuer = http.get("/api/patients/FOLDER-1", params={"issuer": "ELSEWHERE"})
        assert other_issuer.status_code == 404
        assert "FOLDER-1" in other_issuer.json()["detail"]
