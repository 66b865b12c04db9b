"""C-FIND, C-MOVE and C-GET: what an AE finds and retrieves is exactly what its account
sees; C-MOVE goes only to registered destinations; compressed instances are decompressed
for receivers that accept only native transfer syntaxes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless
from pynetdicom import build_context, build_role, evt

from server.dimse.contexts import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)
from tests.conftest import free_port
from tests.server.dimse.conftest import (
    CALLED,
    DriveArchive,
    StorageSCP,
    audit_events,
    dcmtk,
    scu,
)
from tests.server.people import active_practice
from tests.synth import make_ct, make_patient, make_study

STUDY_FIND = StudyRootQueryRetrieveInformationModelFind


def _store(drive: DriveArchive, calling: str, datasets: list[Dataset]) -> list[int]:
    contexts = list({(str(d.SOPClassUID), str(d.file_meta.TransferSyntaxUID)): None
                     for d in datasets})
    assoc = scu(drive.dimse_port, calling, [build_context(s, t) for s, t in contexts])
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def _find(drive: DriveArchive, calling: str, identifier: Dataset,
          model: str = STUDY_FIND) -> tuple[int, list[Dataset]]:
    assoc = scu(drive.dimse_port, calling, [build_context(model)])
    assert assoc.is_established
    found = []
    final = -1
    try:
        for status, ds in assoc.send_c_find(identifier, model):
            if status.Status == 0xFF00:
                found.append(ds)
            else:
                final = int(status.Status)
    finally:
        assoc.release()
    return final, found


def _query(level: str, **keys: Any) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


@pytest.fixture(scope="module")
def stored(drive: DriveArchive) -> list[Dataset]:
    """A CT + MR study stored by a querying source of the local account."""
    drive.add_source("QRSCU", can_retrieve=True)
    drive.add_source("STOREONLY")
    study = make_study(("CT", "MR"), seed=3301, patient=make_patient(2, seed=3301),
                       accession="QR3301")
    assert _store(drive, "QRSCU", study) == [0] * len(study)
    return study


def test_findscu_study_level_with_wildcards(drive: DriveArchive, stored: list[Dataset]
                                            ) -> None:
    family = str(stored[0].PatientName).split("^")[0]
    done = dcmtk("findscu", "-S", "-aet", "QRSCU", "-aec", CALLED,
                 "-k", "QueryRetrieveLevel=STUDY", "-k", f"PatientName={family[:3]}*",
                 "-k", "StudyInstanceUID", "-k", "ModalitiesInStudy",
                 "-k", "NumberOfStudyRelatedInstances", "-k", "AccessionNumber",
                 "127.0.0.1", str(drive.dimse_port))
    assert done.returncode == 0, done.stderr
    assert stored[0].StudyInstanceUID in done.stderr
    assert "QR3301" in done.stderr
    assert f"[{len(stored)} ]" in done.stderr or f"[{len(stored)}]" in done.stderr


def test_find_every_level(drive: DriveArchive, stored: list[Dataset]) -> None:
    first = stored[0]
    final, patients = _find(drive, "QRSCU", _query(
        "PATIENT", PatientID=first.PatientID, PatientName="",
        NumberOfPatientRelatedStudies="", NumberOfPatientRelatedInstances=""),
        PatientRootQueryRetrieveInformationModelFind)
    assert final == 0x0000
    assert len(patients) == 1
    assert patients[0].PatientName == first.PatientName
    assert int(patients[0].NumberOfPatientRelatedInstances) == len(stored)
    final, series = _find(drive, "QRSCU", _query(
        "SERIES", StudyInstanceUID=first.StudyInstanceUID, SeriesInstanceUID="",
        Modality="", NumberOfSeriesRelatedInstances=""))
    assert final == 0x0000
    assert sorted(s.Modality for s in series) == ["CT", "MR"]
    final, images = _find(drive, "QRSCU", _query(
        "IMAGE", StudyInstanceUID=first.StudyInstanceUID,
        SeriesInstanceUID=first.SeriesInstanceUID, SOPInstanceUID="", InstanceNumber=""))
    assert final == 0x0000
    expected = {d.SOPInstanceUID for d in stored if d.SeriesInstanceUID ==
                first.SeriesInstanceUID}
    assert {i.SOPInstanceUID for i in images} == expected
    assert all(set(i.keys()) == set(_query("IMAGE", StudyInstanceUID="",
               SeriesInstanceUID="", SOPInstanceUID="", InstanceNumber="").keys())
               for i in images)  # exactly the requested attributes


def test_find_is_refused_without_the_retrieve_permission(drive: DriveArchive,
                                                         stored: list[Dataset]) -> None:
    final, found = _find(drive, "STOREONLY", _query("STUDY", StudyInstanceUID=""))
    assert final == 0x0124
    assert found == []


def test_find_refuses_a_malformed_identifier(drive: DriveArchive, stored: list[Dataset]
                                             ) -> None:
    with pytest.warns(UserWarning, match="DA"):
        identifier = _query("STUDY", StudyDate="2026-13", PatientID="")
    final, _ = _find(drive, "QRSCU", identifier)
    assert final == 0xC000


def test_another_account_sees_only_its_own(drive: DriveArchive, stored: list[Dataset]
                                           ) -> None:
    other = active_practice(drive, "admin@dimse-other.example", practice="Other imaging")
    drive.add_source("OTHERSCU", can_retrieve=True, headers=other.headers)
    theirs = make_ct(n=2, seed=3401, rows=16, columns=16, patient=make_patient(3, seed=34))
    assert _store(drive, "OTHERSCU", theirs) == [0, 0]
    _, found = _find(drive, "OTHERSCU", _query("STUDY", StudyInstanceUID=""))
    assert {f.StudyInstanceUID for f in found} == {theirs[0].StudyInstanceUID}
    _, found = _find(drive, "QRSCU", _query("STUDY", StudyInstanceUID=""))
    assert theirs[0].StudyInstanceUID not in {f.StudyInstanceUID for f in found}
    # what OTHERSCU stored belongs to its account: its administrator sees it over DICOMweb
    r = httpx.get(f"{drive.dicomweb}/studies", headers=other.headers,
                  params={"StudyInstanceUID": theirs[0].StudyInstanceUID})
    assert r.status_code == 200 and len(r.json()) == 1
    # a suspended account is read-only: stores refused, queries answered
    r = httpx.post(f"{drive.url}/api/staff/accounts/{other.account_id}/state",
                   json={"state": "suspended", "reason": "minimum payment not met"},
                   headers=drive.headers)
    assert r.status_code == 200, r.text
    late = make_ct(n=1, seed=3402, rows=16, columns=16)
    assert _store(drive, "OTHERSCU", late) == [0x0124]
    final, found = _find(drive, "OTHERSCU", _query("STUDY", StudyInstanceUID=""))
    assert final == 0 and len(found) == 1


def _move(drive: DriveArchive, calling: str, destination: str, identifier: Dataset
          ) -> list[Dataset]:
    model = StudyRootQueryRetrieveInformationModelMove
    assoc = scu(drive.dimse_port, calling, [build_context(model)])
    assert assoc.is_established
    try:
        return [status for status, _ in assoc.send_c_move(identifier, destination, model)]
    finally:
        assoc.release()


def test_move_into_a_registered_destination(drive: DriveArchive, stored: list[Dataset],
                                            storage_scp: StorageSCP) -> None:
    drive.add_source(storage_scp.ae_title, host="127.0.0.1", port=storage_scp.port)
    statuses = _move(drive, "QRSCU", storage_scp.ae_title,
                     _query("STUDY", StudyInstanceUID=stored[0].StudyInstanceUID))
    final = statuses[-1]
    assert final.Status == 0x0000
    assert final.NumberOfCompletedSuboperations == len(stored)
    assert {d.SOPInstanceUID for d in storage_scp.received} == {
        d.SOPInstanceUID for d in stored}
    assert set(storage_scp.calling) == {CALLED}
    original = {d.SOPInstanceUID: d for d in stored}
    for got in storage_scp.received:
        assert np.array_equal(got.pixel_array, original[got.SOPInstanceUID].pixel_array)
    moved = audit_events(drive, action="download", actor="ae:QRSCU")
    assert [e["study_uid"] for e in moved] == [stored[0].StudyInstanceUID]
    assert "C-MOVE to MOVEDEST" in moved[0]["resource"]
    # unknown destinations and the retrieve permission
    refused = _move(drive, "QRSCU", "NOBODY", _query(
        "STUDY", StudyInstanceUID=stored[0].StudyInstanceUID))
    assert refused[-1].Status == 0xA801
    denied = _move(drive, "STOREONLY", storage_scp.ae_title, _query(
        "STUDY", StudyInstanceUID=stored[0].StudyInstanceUID))
    assert denied[-1].Status == 0x0124


def test_movescu_series_level(drive: DriveArchive, stored: list[Dataset]) -> None:
    scp = StorageSCP("MOVESCUDEST", free_port()).start()
    try:
        drive.add_source(scp.ae_title, host="127.0.0.1", port=scp.port)
        mr = [d for d in stored if d.Modality == "MR"]
        done = dcmtk("movescu", "-S", "-aet", "QRSCU", "-aec", CALLED, "-aem", scp.ae_title,
                     "-k", "QueryRetrieveLevel=SERIES",
                     "-k", f"StudyInstanceUID={mr[0].StudyInstanceUID}",
                     "-k", f"SeriesInstanceUID={mr[0].SeriesInstanceUID}",
                     "127.0.0.1", str(drive.dimse_port))
        assert done.returncode == 0, done.stderr
        assert {d.SOPInstanceUID for d in scp.received} == {d.SOPInstanceUID for d in mr}
    finally:
        scp.stop()


def test_getscu_study(drive: DriveArchive, stored: list[Dataset], tmp_path: Path) -> None:
    done = dcmtk("getscu", "-S", "-aet", "QRSCU", "-aec", CALLED, "-od", str(tmp_path),
                 "-k", "QueryRetrieveLevel=STUDY",
                 "-k", f"StudyInstanceUID={stored[0].StudyInstanceUID}",
                 "127.0.0.1", str(drive.dimse_port))
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.iterdir())) == len(stored)


def test_get_decompresses_for_a_native_only_receiver(drive: DriveArchive) -> None:
    ds = make_ct(n=1, seed=3501, rows=32, columns=32)[0]
    pixels = ds.pixel_array.copy()
    ds.compress(RLELossless)
    drive.add_source("GETSCU", can_retrieve=True)
    assert _store(drive, "GETSCU", [ds]) == [0]
    received: list[Dataset] = []

    def on_store(event: evt.Event) -> int:
        received.append(event.dataset)
        received[-1].file_meta = event.file_meta
        return 0x0000

    model = StudyRootQueryRetrieveInformationModelGet
    contexts = [build_context(model),
                build_context(ds.SOPClassUID, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]
    assoc = scu(drive.dimse_port, "GETSCU", contexts,
                ext_neg=[build_role(ds.SOPClassUID, scp_role=True)],
                evt_handlers=[(evt.EVT_C_STORE, on_store)])
    assert assoc.is_established
    try:
        statuses = [s for s, _ in assoc.send_c_get(
            _query("IMAGE", StudyInstanceUID=ds.StudyInstanceUID,
                   SeriesInstanceUID=ds.SeriesInstanceUID, SOPInstanceUID=ds.SOPInstanceUID),
            model)]
    finally:
        assoc.release()
    assert statuses[-1].Status == 0x0000
    assert len(received) == 1
    assert not received[0].file_meta.TransferSyntaxUID.is_compressed
    assert np.array_equal(received[0].pixel_array, pixels)
