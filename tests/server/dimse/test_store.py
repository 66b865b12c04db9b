"""C-STORE into the archive: every modality through storescu, the corpus's SOP classes and
transfer syntaxes through pynetdicom, and the right failure status for what fails."""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path

import httpx
import pydicom
import pytest
from pynetdicom import build_context

from tests.server.dimse.conftest import CALLED, DriveArchive, audit_events, dcmtk, scu
from tests.synth import make_ct, make_patient, make_study, write_files

ORIGINAL = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def _instance_uids(drive: DriveArchive, study: str) -> set[str]:
    r = httpx.get(f"{drive.dicomweb}/studies/{study}/instances", headers=drive.headers)
    assert r.status_code in (200, 204), r.text
    return {i["00080018"]["Value"][0] for i in (r.json() if r.status_code == 200 else [])}


def test_storescu_sends_a_study_of_every_modality(drive: DriveArchive, tmp_path: Path) -> None:
    drive.add_source("STORESCU")
    study = make_study(("CT", "MR", "US", "XA", "NM", "ECG"), seed=3101,
                       patient=make_patient(1, seed=3101))
    write_files(study, tmp_path / "files")
    done = dcmtk("storescu", "-v", "+sd", "+r", "-aet", "STORESCU", "-aec", CALLED,
                 "127.0.0.1", str(drive.dimse_port), str(tmp_path / "files"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("Received Store Response (Success)") == len(study)
    assert _instance_uids(drive, study[0].StudyInstanceUID) == {
        ds.SOPInstanceUID for ds in study}
    stored = audit_events(drive, action="store", actor="ae:STORESCU")
    assert [e["study_uid"] for e in stored] == [study[0].StudyInstanceUID]  # once
    ds = study[0]
    got = httpx.get(f"{drive.dicomweb}/studies/{ds.StudyInstanceUID}/series/"
                    f"{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}",
                    headers={**drive.headers, "Accept": ORIGINAL})
    back = pydicom.dcmread(io.BytesIO(got.content[got.content.index(b"\r\n\r\n") + 4:]))
    assert back.file_meta.SourceApplicationEntityTitle == "STORESCU"
    assert back.PixelData == ds.PixelData


def test_store_answers_success_only_for_what_is_stored(drive: DriveArchive) -> None:
    drive.add_source("FAILSCU")
    good, other = make_ct(n=2, seed=3201, rows=16, columns=16)
    bad = make_ct(n=1, seed=3202, rows=16, columns=16)[0]
    with pytest.warns(UserWarning):
        bad.SeriesInstanceUID = "1.2.x.3"  # not a UID: cannot be understood
    conflicting = copy.deepcopy(good)
    conflicting.PatientName = "SOMEONE^ELSE"  # same SOP Instance UID, other content
    contexts = [build_context(good.SOPClassUID)]
    assoc = scu(drive.dimse_port, "FAILSCU", contexts)
    assert assoc.is_established
    try:
        assert assoc.send_c_store(good).Status == 0x0000
        assert assoc.send_c_store(good).Status == 0x0000  # identical again: a no-op
        refused = assoc.send_c_store(bad)
        assert refused.Status == 0xC000
        assert "UID" in refused.get("ErrorComment", "")
        duplicate = assoc.send_c_store(conflicting)
        assert duplicate.Status == 0x0111
        assert assoc.send_c_store(other).Status == 0x0000
    finally:
        assoc.release()
    assert _instance_uids(drive, good.StudyInstanceUID) == {good.SOPInstanceUID,
                                                            other.SOPInstanceUID}
    r = httpx.get(f"{drive.dicomweb}/studies/{good.StudyInstanceUID}/series/"
                  f"{good.SeriesInstanceUID}/instances/{good.SOPInstanceUID}/metadata",
                  headers=drive.headers)
    assert r.json()[0]["00100010"]["Value"][0]["Alphabetic"] == str(good.PatientName)


def _corpus_choice(corpus: Path) -> list[tuple[Path, pydicom.Dataset]]:
    """One readable file per (SOP class, transfer syntax) of the corpus, distinct UIDs."""
    chosen: dict[tuple[str, str], tuple[Path, pydicom.Dataset]] = {}
    seen: set[str] = set()
    with open(corpus / "MANIFEST.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            path = corpus / row["path"]
            if not path.is_file() or not row["transfer_syntax"] or "no meta" in row[
                    "transfer_syntax"]:
                continue
            try:
                ds = pydicom.dcmread(path)
                key = (str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
                uid = str(ds.SOPInstanceUID)
            except Exception:
                continue
            if key not in chosen and uid not in seen and pydicom.uid.UID(key[1]).is_valid:
                chosen[key] = (path, ds)
                seen.add(uid)
    return list(chosen.values())


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on the corpus's odd values
def test_corpus_classes_and_transfer_syntaxes_are_stored_as_sent(
        drive: DriveArchive, corpus: Path) -> None:
    drive.add_source("CORPUSSCU")
    choice = _corpus_choice(corpus)
    assert len(choice) > 30
    files = [path for path, _ in choice]
    datasets = [ds for _, ds in choice]
    pairs = list(dict.fromkeys((str(d.SOPClassUID), str(d.file_meta.TransferSyntaxUID))
                               for d in datasets))
    assoc = scu(drive.dimse_port, "CORPUSSCU",
                [build_context(sop, syntax) for sop, syntax in pairs[:128]])
    assert assoc.is_established
    statuses: dict[str, tuple[int, str]] = {}
    stored = []
    try:
        for path, ds in zip(files, datasets, strict=True):
            try:
                answer = assoc.send_c_store(ds)
            except ValueError:  # pynetdicom cannot encode this (malformed) file at all
                continue
            statuses[str(path)] = (answer.Status, answer.get("ErrorComment", ""))
            if answer.Status == 0:
                stored.append(ds)
    finally:
        assoc.release()
    refused = {name: s for name, s in statuses.items() if s[0] != 0}
    assert all(code in (0xC000, 0xA900, 0x0110) for code, _ in refused.values()), refused
    assert all(reason for _, reason in refused.values()), refused
    assert len(statuses) > 30
    assert len(stored) >= len(statuses) - 3, refused
    for ds in stored:  # kept in the transfer syntax it was sent in, pixels untouched
        url = (f"{drive.dicomweb}/studies/{ds.StudyInstanceUID}/series/"
               f"{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}")
        got = httpx.get(url, headers={**drive.headers, "Accept": ORIGINAL}, timeout=60)
        assert got.status_code == 200, (ds.SOPInstanceUID, got.text[:300])
        start = got.content.index(b"\r\n\r\n") + 4
        back = pydicom.dcmread(io.BytesIO(got.content[start:]))
        assert back.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
        assert back.get("PixelData") == ds.get("PixelData")
