"""Media uploads: real files of each kind in a study or a folder, served in native form."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pydicom
import pytest

from tests import files
from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.people import Person, active_practice, add_member, stow
from tests.synth import make_patient, make_study


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArchive]:
    running = start_archive(tmp_path_factory.mktemp("media") / "data",
                            WORKBENCH_MAX_MEDIA_BYTES=str(2 * 1024 * 1024))
    yield running
    stop_archive(running)


@pytest.fixture(scope="module")
def practice(site: RunningArchive) -> dict[str, object]:
    admin = active_practice(site, "admin@media-a.example", practice="Media A")
    other = active_practice(site, "admin@media-b.example", practice="Media B",
                            npi="1003000126")
    tech = add_member(site, admin.headers, "tech@media-a.example", ["technologist"])
    patient = make_patient(5, seed=61)
    study = make_study(("CT",), seed=611, patient=patient)
    assert stow(site, admin.headers, study).status_code == 200
    return {"admin": admin, "other": other, "tech": tech, "patient": patient,
            "study": study[0].StudyInstanceUID}


def _upload(site: RunningArchive, person: Person, items: list[tuple[str, bytes]],
            **form: str) -> httpx.Response:
    return httpx.post(f"{site.url}/api/media", headers=person.headers, data=form,
                      files=[("files", (name, data)) for name, data in items], timeout=60)


def test_each_kind_is_stored_typed_and_served_back_identically(
        site: RunningArchive, practice: dict[str, object]) -> None:
    tech, admin = practice["tech"], practice["admin"]
    assert isinstance(tech, Person) and isinstance(admin, Person)
    kinds = {
        "referral.pdf": (files.pdf(), "application/pdf", "inline"),
        "requisition.docx": (files.docx(), "application/vnd.openxmlformats-officedocument."
                             "wordprocessingml.document", "attachment"),
        "letter.rtf": (files.rtf(), "application/rtf", "attachment"),
        "photo.png": (files.png(1), "image/png", "inline"),
        "IMG_0001.JPG": (files.jpeg(2), "image/jpeg", "inline"),
    }
    r = _upload(site, tech, [(n, d) for n, (d, _, _) in kinds.items()],
                upload_type="other", study_uid=str(practice["study"]))
    assert r.status_code == 201, r.text
    stored = {s["filename"]: s for s in r.json()["stored"]}
    assert set(stored) == set(kinds) and r.json()["failed"] == []
    for name, (data, media_type, disposition) in kinds.items():
        entry = stored[name]
        assert entry["media_type"] == media_type and entry["uploaded_by"] == tech.email
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        got = httpx.get(f"{site.url}{entry['content_url']}", headers=admin.headers)
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-type"].startswith(media_type)
        assert got.headers["content-disposition"].startswith(disposition)
        assert got.headers["x-content-type-options"] == "nosniff"
    audio = _upload(site, tech, [("dictation.wav", files.wav())], upload_type="audio",
                    study_uid=str(practice["study"]))
    clip = audio.json()["stored"][0]
    ranged = httpx.get(f"{site.url}{clip['content_url']}", headers={**admin.headers,
                                                                     "Range": "bytes=0-43"})
    assert ranged.status_code == 206 and ranged.content == files.wav()[:44]
    assert ranged.headers["content-range"] == f"bytes 0-43/{len(files.wav())}"


def test_dangerous_or_mismatched_files_are_refused_with_reasons(
        site: RunningArchive, practice: dict[str, object]) -> None:
    tech = practice["tech"]
    assert isinstance(tech, Person)
    r = _upload(site, tech, [("results.pdf", files.disguised_html()),
                             ("logo.svg", files.svg_with_script()),
                             ("setup.exe", files.executable())],
                upload_type="other", study_uid=str(practice["study"]))
    assert r.status_code == 415
    reasons = {f["filename"]: f["reason"] for f in r.json()["failed"]}
    assert "HTML" in reasons["results.pdf"] and "SVG" in reasons["logo.svg"]
    assert "executable" in reasons["setup.exe"]
    wrong = _upload(site, tech, [("song.wav", files.pdf())], upload_type="audio",
                    study_uid=str(practice["study"]))
    assert wrong.status_code == 415 and "PDF document" in wrong.json()["failed"][0]["reason"]
    big = _upload(site, tech, [("scan.pdf", files.pdf() + b"%" * (3 * 1024 * 1024))],
                  upload_type="document", study_uid=str(practice["study"]))
    assert big.status_code == 413 and "limit" in big.json()["failed"][0]["reason"]
    leftovers = [p for p in (site.data_dir / "media").rglob("*") if p.is_file()]
    listed = httpx.get(f"{site.url}/api/media", headers=tech.headers).json()
    assert len(leftovers) == len(listed)  # nothing refused was kept


def test_duplicates_are_recognised(site: RunningArchive, practice: dict[str, object]) -> None:
    tech = practice["tech"]
    assert isinstance(tech, Person)
    first = _upload(site, tech, [("a.pdf", files.pdf("same"))], upload_type="document",
                    study_uid=str(practice["study"]))
    again = _upload(site, tech, [("b.pdf", files.pdf("same"))], upload_type="document",
                    study_uid=str(practice["study"]))
    assert first.json()["stored"][0]["duplicate"] is False
    assert again.json()["stored"][0]["duplicate"] is True
    assert again.json()["stored"][0]["id"] == first.json()["stored"][0]["id"]


def test_folder_files_and_dicom_copies(site: RunningArchive, practice: dict[str, object]
                                       ) -> None:
    admin, other = practice["admin"], practice["other"]
    patient = practice["patient"]
    assert isinstance(admin, Person) and isinstance(other, Person)
    r = _upload(site, admin, [("consent.pdf", files.pdf("consent")),
                              ("wound.png", files.png(3))],
                upload_type="scanned_document", patient_id=patient.patient_id,  # type: ignore[attr-defined]
                issuer=patient.issuer, study_uid="", store_as_dicom="true")  # type: ignore[attr-defined]
    assert r.status_code == 201, r.text
    stored = {s["filename"]: s for s in r.json()["stored"]}
    assert all(s["study_uid"] is None and s["sop_uid"] for s in stored.values())
    folder = httpx.get(f"{site.url}/api/patients/{patient.patient_id}",  # type: ignore[attr-defined]
                       params={"issuer": patient.issuer}, headers=admin.headers).json()  # type: ignore[attr-defined]
    assert {"consent.pdf", "wound.png"} <= {m["filename"] for m in folder["media"]}
    assert all(m["uploaded_by"] for m in folder["media"])
    # the DICOM copies are in the archive: an Encapsulated PDF and a Secondary Capture
    found = httpx.get(f"{site.dicomweb}/instances", headers=admin.headers,
                      params={"SOPInstanceUID": stored["consent.pdf"]["sop_uid"],
                              "includefield": "all"}).json()
    assert found and found[0]["00080016"]["Value"][0] == "1.2.840.10008.5.1.4.1.1.104.1"
    item = found[0]
    url = (f"{site.dicomweb}/studies/{item['0020000D']['Value'][0]}/series/"
           f"{item['0020000E']['Value'][0]}/instances/{item['00080018']['Value'][0]}")
    part = httpx.get(url, headers={**admin.headers,
                                   "Accept": 'multipart/related; type="application/dicom"; '
                                             'transfer-syntax=*'})
    assert part.status_code == 200 and files.pdf("consent") in part.content
    sc = httpx.get(f"{site.dicomweb}/instances", headers=admin.headers,
                   params={"SOPInstanceUID": stored["wound.png"]["sop_uid"]}).json()
    assert sc[0]["00080016"]["Value"][0] == "1.2.840.10008.5.1.4.1.1.7"
    # another account sees none of it
    assert httpx.get(f"{site.url}/api/media", headers=other.headers).json() == []
    hidden = httpx.get(f"{site.url}{stored['consent.pdf']['content_url']}",
                       headers=other.headers)
    assert hidden.status_code == 404
    denied = _upload(site, other, [("x.pdf", files.pdf())], upload_type="document",
                     patient_id=patient.patient_id, issuer=patient.issuer)  # type: ignore[attr-defined]
    assert denied.status_code == 404
    assert pydicom.uid.UID(stored["wound.png"]["sop_uid"]).is_valid


def test_downloads_are_audited_and_study_deletion_removes_files(
        site: RunningArchive, practice: dict[str, object]) -> None:
    admin = practice["admin"]
    assert isinstance(admin, Person)
    study = make_study(("CT",), seed=612, patient=make_patient(6, seed=61))
    stow(site, admin.headers, study)
    uid = study[0].StudyInstanceUID
    r = _upload(site, admin, [("note.rtf", files.rtf("to delete"))], upload_type="document",
                study_uid=uid)
    entry = r.json()["stored"][0]
    httpx.get(f"{site.url}{entry['content_url']}", headers=admin.headers)
    events = httpx.get(f"{site.url}/api/audit", headers=admin.headers,
                       params={"action": "download"}).json()
    assert any(entry["content_url"] in e["resource"] for e in events)
    blobs_before = sum(1 for p in (site.data_dir / "media").rglob("*") if p.is_file())
    assert httpx.delete(f"{site.dicomweb}/studies/{uid}", headers=admin.headers
                        ).status_code == 200
    assert httpx.get(f"{site.url}{entry['content_url']}", headers=admin.headers
                     ).status_code == 404
    blobs_after = sum(1 for p in (site.data_dir / "media").rglob("*") if p.is_file())
    assert blobs_after == blobs_before - 1


def test_dicom_files_go_through_the_dicom_ingest(site: RunningArchive,
                                                 practice: dict[str, object]) -> None:
    tech = practice["tech"]
    assert isinstance(tech, Person)
    from tests.synth import to_bytes

    study = make_study(("MR",), seed=613)
    r = _upload(site, tech, [(f"im{i}.dcm", to_bytes(ds)) for i, ds in enumerate(study)] +
                [("notes.txt", b"not dicom")], upload_type="dicom_images")
    assert r.status_code == 201
    assert len(r.json()["stored"]) == len(study)
    assert "not a DICOM file" in r.json()["failed"][0]["reason"]


def test_workbench_ingest_attaches_non_dicom_files(site: RunningArchive, tmp_path: Path
                                                   ) -> None:
    from tests.synth import write_files
    from workbench.ingest import ingest_paths
    from workbench.ingest_media import MediaTarget

    study = make_study(("CT",), seed=614, patient=make_patient(7, seed=61))
    write_files(study, tmp_path / "exam")
    (tmp_path / "exam" / "referral.pdf").write_bytes(files.pdf("ingested referral"))
    (tmp_path / "exam" / "letter.rtf").write_bytes(files.rtf("ingested letter"))
    (tmp_path / "exam" / "report.pdf.html").write_bytes(files.disguised_html())
    uid = study[0].StudyInstanceUID
    summary = ingest_paths([tmp_path / "exam"], url=site.dicomweb, token=site.token,
                           state_file=tmp_path / "state.json", progress=False,
                           media=MediaTarget(study_uid=uid, upload_type="document"))
    assert summary.stored == len(study) and summary.attached == 2
    assert len(summary.rejected) == 1 and "HTML" in summary.rejected[0][1]
    assert "attached    2" in summary.report()
    listed = httpx.get(f"{site.url}/api/media", headers=site.headers,
                       params={"study_uid": uid}).json()
    assert {m["filename"] for m in listed} == {"referral.pdf", "letter.rtf"}
