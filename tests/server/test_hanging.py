"""Priors found through QIDO on a synthetic patient; key images through the archive."""

from __future__ import annotations

import httpx
import pydicom

from tests.conftest import RunningArchive
from tests.server.people import stow
from tests.synth import make_ct, make_patient, make_study
from workbench.dicom.kos import key_images, key_object_selection
from workbench.dicomweb.client import HttpArchiveClient
from workbench.hanging import StudyInfo, best_protocol, default_protocols, find_priors, hang


def test_priors_are_the_latest_comparable_studies_before_the_current(
        archive: RunningArchive) -> None:
    patient = make_patient(9, seed=91)
    other_issuer = type(patient)(**{**patient.__dict__, "issuer": "OTHER-HOSPITAL"})
    plan = [("20260310", ("CT",), "CT CHEST", patient), ("20250615", ("CT",), "CT CHEST",
            patient), ("20250101", ("MR",), "MR BRAIN", patient),
            ("20240220", ("CT",), "CT CHEST", patient), ("20260401", ("CT",), "CT CHEST",
            patient), ("20251111", ("CT",), "CT CHEST", other_issuer)]
    uids = {}
    for i, (date, modalities, description, who) in enumerate(plan):
        study = make_study(modalities, seed=930 + i, patient=who, study_date=date,
                           study_description=description, accession=f"A{i}")
        assert stow(archive, archive.headers, study).status_code == 200
        uids[date] = study[0].StudyInstanceUID
    with HttpArchiveClient(archive.dicomweb, token=archive.token) as client:
        found = client.search_for_studies(match={"StudyInstanceUID": uids["20260310"]},
                                          include_fields=("ModalitiesInStudy",
                                                          "IssuerOfPatientID"))
        series = client.search_for_series(uids["20260310"])
        current = StudyInfo.from_json(found[0], series)
        priors = find_priors(client, current, 2)
        assert [p.first("StudyDate") for p in priors] == ["20250615", "20240220"]
        assert [p.uid for p in find_priors(client, current, 5)] == [
            uids["20250615"], uids["20240220"]]
        match = best_protocol(default_protocols(), current)
        assert match is not None and match.protocol.name == "CT chest with prior"
        hung = hang(match.protocol, current, priors[:match.protocol.priors])
        assert hung.series["prior"] is not None
        assert hung.series["prior"].uid == priors[0].series[0].uid


def test_key_images_round_trip_through_the_archive(archive: RunningArchive) -> None:
    images = make_ct(n=4, seed=941, rows=8, columns=8)
    assert stow(archive, archive.headers, images).status_code == 200
    document = key_object_selection(images[1:3], note="index lesion")
    assert stow(archive, archive.headers, [document]).status_code == 200
    study = images[0].StudyInstanceUID
    with HttpArchiveClient(archive.dicomweb, token=archive.token) as client:
        kos = client.search_for_instances(study, match={
            "SOPClassUID": "1.2.840.10008.5.1.4.1.1.88.59"})
        assert len(kos) == 1
        series_uid = kos[0]["0020000E"]["Value"][0]
        sop_uid = kos[0]["00080018"]["Value"][0]
        data = client.retrieve_instance(study, series_uid, sop_uid)
    stored = pydicom.dcmread(__import__("io").BytesIO(data))
    selection = key_images(stored)
    assert selection.note == "index lesion" and selection.title == "Of Interest"
    assert [k.sop_instance_uid for k in selection.images] == [
        str(ds.SOPInstanceUID) for ds in images[1:3]]
    assert all(k.series_instance_uid == images[0].SeriesInstanceUID for k in selection.images)
    assert httpx.get(f"{archive.dicomweb}/studies/{study}/series/{series_uid}",
                     headers=archive.headers).status_code == 200


def test_preferences_and_protocols_are_kept_per_user(archive: RunningArchive) -> None:
    from tests.server.people import add_member

    reader = add_member(archive, archive.headers, "hanger@local.example", ["reading_physician"])
    base = f"{archive.url}/api/me"
    assert httpx.get(f"{base}/preferences", headers=reader.headers).json()["layout"] == "1x1"
    saved = httpx.put(f"{base}/preferences", headers=reader.headers, json={
        "window_presets": {"CT": "lung"}, "layout": "1x2", "overlay": "full",
        "open_key_images_first": True})
    assert saved.status_code == 200
    assert httpx.get(f"{base}/preferences", headers=reader.headers).json()["layout"] == "1x2"
    assert httpx.get(f"{base}/preferences", headers=archive.headers).json()["layout"] == "1x1"
    bad = httpx.put(f"{base}/preferences", headers=reader.headers, json={"layout": "9x9"})
    assert bad.status_code == 422
    mine = default_protocols()[0].model_copy(update={"name": "my chest"}).model_dump()
    assert httpx.put(f"{base}/hanging-protocols/my chest", headers=reader.headers,
                     json=mine).status_code == 200
    listed = httpx.get(f"{base}/hanging-protocols", headers=reader.headers).json()
    assert listed[0]["own"] and listed[0]["protocol"]["name"] == "my chest"
    assert len(listed) == len(default_protocols()) + 1
    broken = dict(mine, stages=[{"name": "x", "viewports": [{"series": "missing"}]}])
    r = httpx.put(f"{base}/hanging-protocols/my chest", headers=reader.headers, json=broken)
    assert r.status_code == 422 and "missing" in r.text
    wrong_name = httpx.put(f"{base}/hanging-protocols/other", headers=reader.headers, json=mine)
    assert wrong_name.status_code == 422
    assert httpx.delete(f"{base}/hanging-protocols/my chest", headers=reader.headers
                        ).status_code == 200
    assert httpx.delete(f"{base}/hanging-protocols/my chest", headers=reader.headers
                        ).status_code == 404
