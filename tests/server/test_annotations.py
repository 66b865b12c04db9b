"""Annotations through the archive: measured by the library, visible with their study, kept
per author, exported as DICOM SR TID 1500 and read back over WADO-RS."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.people import VALID_NPIS, Person, active_practice, add_member, stow
from tests.synth import make_ct, make_patient, make_study
from workbench.dicom.frames import frame_array
from workbench.imaging.lut import apply_modality_lut
from workbench.imaging.planes import plane_geometry
from workbench.measure import (
    Ellipse,
    Polygon,
    calibration_from_dataset,
    measure_angle,
    measure_length,
    probe,
    roi_statistics,
)
from workbench.measure.sr_read import read_measurement_report

pytestmark = pytest.mark.slow  # a real server, two practices and their members


@dataclass
class Site:
    archive: RunningArchive
    admin: Person
    reader: Person
    referrer: Person
    partner_admin: Person
    partner_reader: Person
    stranger: Person
    images: list[Dataset]
    hidden: str

    @property
    def study(self) -> str:
        return str(self.images[0].StudyInstanceUID)

    def url(self, study: str | None = None, suffix: str = "") -> str:
        return f"{self.archive.url}/api/studies/{study or self.study}/annotations{suffix}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    archive = start_archive(tmp_path_factory.mktemp("annotations") / "data")
    try:
        admin = active_practice(archive, "admin@ct.example", practice="CT Clinic")
        reader = add_member(archive, admin.headers, "reader@ct.example", ["reading_physician"],
                            npi=VALID_NPIS[2])
        referrer = add_member(archive, admin.headers, "ref@ct.example", ["referring_physician"])
        partner = active_practice(archive, "admin@partner.example", practice="Partner",
                                  npi=VALID_NPIS[3])
        partner_reader = add_member(archive, partner.headers, "reader@partner.example",
                                    ["reading_physician"], npi=VALID_NPIS[4])
        stranger = add_member(archive, partner.headers, "other@partner.example",
                              ["reading_physician"], npi=VALID_NPIS[0])
        study = make_study(("CT",), seed=611, patient=make_patient(1, seed=61))
        hidden = make_study(("CT",), seed=612, patient=make_patient(2, seed=61))
        assert stow(archive, admin.headers, study).status_code == 200
        assert stow(archive, partner.headers, hidden).status_code == 200
        for person in (referrer, partner_reader):
            r = httpx.post(f"{archive.url}/api/shares", headers=admin.headers,
                           json={"study_uid": study[0].StudyInstanceUID,
                                 "user_email": person.email})
            assert r.status_code == 201, r.text
        images = [ds for ds in study if ds.Modality == "CT"]
        yield Site(archive, admin, reader, referrer, partner, partner_reader, stranger, images,
                   str(hidden[0].StudyInstanceUID))
    finally:
        stop_archive(archive)


def body(ds: Dataset, kind: str, points: list[tuple[float, float]], **extra: Any
         ) -> dict[str, Any]:
    return {"kind": kind, "series_uid": ds.SeriesInstanceUID,
            "sop_instance_uid": ds.SOPInstanceUID, "points": points, **extra}


def add(site: Site, who: Person, payload: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = httpx.post(site.url(), json=payload, headers=who.headers, timeout=60)
    assert r.status_code == status, r.text
    return dict(r.json())


def listed(site: Site, who: Person, **params: str) -> list[dict[str, Any]]:
    r = httpx.get(site.url(), headers=who.headers, params=params, timeout=60)
    assert r.status_code == 200, r.text
    return list(r.json())


def quantities(annotation: dict[str, Any]) -> dict[str, float]:
    return {q["name"]: q["value"] for q in annotation["measurement"]["quantities"]}


def values(ds: Dataset) -> np.ndarray:  # type: ignore[type-arg]
    return apply_modality_lut(frame_array(ds, 1), ds)


def test_create_list_update_delete_measured_by_the_library(site: Site) -> None:
    ds = site.images[1]
    created = add(site, site.reader, body(ds, "length", [(3.0, 4.0), (30.5, 40.25)],
                                          label="aorta"))
    cal = calibration_from_dataset(ds, [(3.0, 4.0), (30.5, 40.25)])
    expected = measure_length((3.0, 4.0), (30.5, 40.25), cal)
    assert quantities(created) == {"length": expected.value}
    assert created["measurement"]["calibration"]["kind"] == "PIXEL_SPACING"
    assert created["measurement"]["calibration"]["row_spacing"] == cal.row_spacing
    assert created["points"] == [[3.0, 4.0], [30.5, 40.25]]
    plane = plane_geometry(ds)
    np.testing.assert_allclose(created["points_mm"],
                               plane.pixel_to_patient([3.0, 30.5], [4.0, 40.25]), atol=1e-9)
    assert created["author"] == {"user_id": site.reader.user_id, "name": "reader"}
    assert created["label"] == "aorta" and created["editable"] and created["origin"] == "archive"
    assert created["sop_class_uid"] == ds.SOPClassUID and created["frame"] is None

    shown = [a for a in listed(site, site.reader) if a["id"] == created["id"]]
    assert shown == [created]

    r = httpx.put(site.url(suffix=f"/{created['id']}"), headers=site.reader.headers,
                  json=body(ds, "length", [(3.0, 4.0), (3.0, 14.0)], label="renamed"))
    assert r.status_code == 200, r.text
    changed = r.json()
    assert quantities(changed) == {"length": 10 * cal.column_spacing}
    assert changed["label"] == "renamed" and changed["created_at"] == created["created_at"]
    assert changed["updated_at"] >= created["updated_at"]

    r = httpx.delete(site.url(suffix=f"/{created['id']}"), headers=site.reader.headers)
    assert r.status_code == 204, r.text
    assert created["id"] not in {a["id"] for a in listed(site, site.reader)}
    r = httpx.delete(site.url(suffix=f"/{created['id']}"), headers=site.reader.headers)
    assert r.status_code == 404 and f"no annotation {created['id']}" in r.text


def test_pixel_statistics_are_the_library_s_on_the_stored_image(site: Site) -> None:
    ds = site.images[2]
    cal = calibration_from_dataset(ds)
    hu = values(ds)
    ellipse = add(site, site.reader, body(ds, "ellipse", [(10.0, 12.0), (40.0, 50.0)]))
    stats = roi_statistics(hu, Ellipse.from_box((10.0, 12.0), (40.0, 50.0)), cal, units="HU")
    assert quantities(ellipse) == {q.name: q.value for q in stats.quantities()}
    assert ellipse["points"] == [[25.0, 12.0], [25.0, 50.0], [10.0, 31.0], [40.0, 31.0]]
    outline = [(5.0, 5.0), (5.0, 30.0), (28.0, 17.0)]
    polygon = add(site, site.reader, body(ds, "polygon", outline))
    assert quantities(polygon)["mean"] == roi_statistics(hu, Polygon(tuple(outline)), cal,
                                                         units="HU").mean
    point = add(site, site.reader, body(ds, "probe", [(20.2, 33.7)]))
    assert quantities(point) == {"value": probe(hu, (20.2, 33.7), cal, units="HU").value}
    assert point["measurement"]["index"] == [20, 34]
    arrow = add(site, site.reader, body(ds, "arrow", [(1.0, 1.0), (9.0, 9.0)]))
    text = add(site, site.reader, body(ds, "text", [(2.0, 2.0)], label="see here"))
    assert arrow["measurement"] is None and text["measurement"] is None
    assert text["label"] == "see here"
    user = add(site, site.reader, body(ds, "length", [(0.0, 0.0), (0.0, 10.0)],
                                       calibration={"row_spacing": 0.5, "column_spacing": 0.5}))
    assert quantities(user) == {"length": 5.0}
    assert user["measurement"]["calibration"]["kind"] == "USER"


@pytest.mark.parametrize(("payload", "message"), [
    ({"kind": "length", "points": [(1.0, 1.0)]}, "a length has 2 points, got 1"),
    ({"kind": "polygon", "points": [(1.0, 1.0), (2.0, 2.0)]}, "at least 3 points"),
    ({"kind": "length", "points": [(1.0, 1.0), (1.0, 900.0)]}, "outside the 64 x 64 image"),
    ({"kind": "text", "points": [(1.0, 1.0)]}, "needs its text as the label"),
    ({"kind": "length", "points": [(1.0, 1.0), (2.0, 2.0)], "frame": 3},
     "beyond NumberOfFrames 1"),
    ({"kind": "ellipse", "points": [(1.0, 1.0), (1.0, 1.0)]}, "radii must be positive"),
    ({"kind": "length", "points": [(1.0, 1.0), (2.0, 2.0)], "sop_instance_uid": "1.2.3"},
     "instance 1.2.3 of series"),
])
def test_what_cannot_be_measured_is_refused_with_the_reason(
        site: Site, payload: dict[str, Any], message: str) -> None:
    ds = site.images[0]
    sent = {"series_uid": ds.SeriesInstanceUID, "sop_instance_uid": ds.SOPInstanceUID,
            **payload}
    r = httpx.post(site.url(), json=sent, headers=site.reader.headers, timeout=60)
    assert r.status_code == 422, r.text
    assert message in r.text


def test_other_accounts_do_not_see_annotations(site: Site) -> None:
    ds = site.images[0]
    mine = add(site, site.reader, body(ds, "length", [(1.0, 1.0), (5.0, 5.0)]))
    for who in (site.partner_admin, site.stranger):
        assert httpx.get(site.url(), headers=who.headers).status_code == 404
        r = httpx.put(site.url(suffix=f"/{mine['id']}"), headers=who.headers,
                      json=body(ds, "length", [(1.0, 1.0), (2.0, 2.0)]))
        assert r.status_code == 404, r.text
        assert httpx.delete(site.url(suffix=f"/{mine['id']}"),
                            headers=who.headers).status_code == 404
    r = httpx.post(site.url(), headers=site.stranger.headers,
                   json=body(ds, "length", [(1.0, 1.0), (5.0, 5.0)]))
    assert r.status_code == 404, r.text
    # the owner's people do not reach the partner's study either, nor its annotations
    assert httpx.get(site.url(site.hidden), headers=site.admin.headers).status_code == 404
    assert mine["id"] in {a["id"] for a in listed(site, site.reader)}


def test_shared_study_readers_read_but_change_only_their_own(site: Site) -> None:
    ds = site.images[3]
    mine = add(site, site.reader, body(ds, "angle", [(5.0, 30.0), (5.0, 5.0), (30.0, 5.0)]))
    cal = calibration_from_dataset(ds)
    assert quantities(mine) == {"angle": measure_angle((5, 30), (5, 5), (30, 5), cal).value}
    # a referring physician the study is shared with reads it, and may not draw on it
    seen = {a["id"]: a for a in listed(site, site.referrer)}
    assert seen[mine["id"]]["measurement"] == mine["measurement"]
    assert seen[mine["id"]]["editable"] is False
    add(site, site.referrer, body(ds, "length", [(1.0, 1.0), (2.0, 2.0)]), status=403)
    # the partner's reading physician reads it too, draws her own, cannot change others'
    theirs = add(site, site.partner_reader, body(ds, "length", [(1.0, 1.0), (9.0, 1.0)]))
    assert {a["id"]: a["editable"] for a in listed(site, site.partner_reader)
            if a["id"] in (mine["id"], theirs["id"])} == {mine["id"]: False, theirs["id"]: True}
    for who, target in ((site.partner_reader, mine), (site.referrer, mine),
                        (site.referrer, theirs)):
        r = httpx.put(site.url(suffix=f"/{target['id']}"), headers=who.headers,
                      json=body(ds, "length", [(1.0, 1.0), (2.0, 2.0)]))
        assert r.status_code == 403, r.text
        assert "only its author or an administrator" in r.text
        assert httpx.delete(site.url(suffix=f"/{target['id']}"),
                            headers=who.headers).status_code == 403
    r = httpx.put(site.url(suffix=f"/{theirs['id']}"), headers=site.partner_reader.headers,
                  json=body(ds, "length", [(1.0, 1.0), (5.0, 1.0)]))
    assert r.status_code == 200, r.text
    # the owning account's administrator may remove anything drawn on its study
    assert httpx.delete(site.url(suffix=f"/{theirs['id']}"),
                        headers=site.admin.headers).status_code == 204
    assert theirs["id"] not in {a["id"] for a in listed(site, site.reader)}


def test_reading_annotations_is_audited(site: Site) -> None:
    listed(site, site.referrer)
    deadline = time.monotonic() + 10
    while True:
        r = httpx.get(f"{site.archive.url}/api/audit", headers=site.admin.headers,
                      params={"study_uid": site.study, "action": "view",
                              "actor": site.referrer.email})
        assert r.status_code == 200, r.text
        hits = [e for e in r.json() if e["resource"].endswith("/annotations")]
        if hits or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert hits and hits[0]["outcome"] == "200"


def test_the_first_annotation_charges_the_toolset_fee(site: Site) -> None:
    add(site, site.reader, body(site.images[0], "probe", [(7.0, 7.0)]))
    deadline = time.monotonic() + 15
    while True:
        r = httpx.get(f"{site.archive.url}/api/billing/ledger", headers=site.admin.headers)
        assert r.status_code == 200, r.text
        toolset = [e for e in r.json()["entries"]
                   if e["study_uid"] == site.study and e["kind"] == "toolset"]
        if toolset or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(toolset) == 1 and "annotation" in str(toolset[0]["reason"])


def test_sr_export_is_retrieved_over_wado_and_reads_back_the_same(site: Site) -> None:
    ds = site.images[0]
    drawn = [add(site, site.reader, body(ds, "length", [(2.0, 3.0), (40.0, 41.5)])),
             add(site, site.reader, body(ds, "ellipse", [(10.0, 10.0), (30.0, 44.0)])),
             add(site, site.reader, body(ds, "arrow", [(1.0, 1.0), (5.0, 5.0)]))]
    ids = [a["id"] for a in drawn]
    r = httpx.post(site.url(suffix="/sr"), headers=site.reader.headers,
                   json={"annotation_ids": ids}, timeout=120)
    assert r.status_code == 201, r.text
    export = r.json()
    assert export["skipped"] == [{"id": drawn[2]["id"],
                                  "reason": "arrow annotations are not measurements"}]
    (stored,) = export["instances"]
    assert stored["annotations"] == ids[:2] and stored["author"] == "reader"

    client = DICOMwebClient(site.archive.dicomweb, headers=site.referrer.headers)
    sr = client.retrieve_instance(site.study, export["series_uid"], stored["sop_instance_uid"])
    assert sr.Modality == "SR" and sr.PatientID == ds.PatientID
    assert [str(item.PersonName) for item in sr.ContentSequence
            if item.ValueType == "PNAME"] == ["reader^"]  # the author is the observer
    back = read_measurement_report(sr)
    expected = [quantities(a) for a in drawn[:2]]
    assert [{q.name: q.value for q in m.quantities()} for m in back] == expected
    assert [m.calibration.kind.value for m in back] == ["PIXEL_SPACING"] * 2

    from_sr = [a for a in listed(site, site.referrer, include="sr")
               if a["origin"] == "sr" and a["sr"]["sop_instance_uid"] == stored["sop_instance_uid"]]
    assert [(a["kind"], quantities(a)) for a in from_sr] == [
        ("length", expected[0]), ("ellipse", expected[1])]
    assert [a["points"] for a in from_sr] == [a["points"] for a in drawn[:2]]
    for got, want in zip(from_sr, drawn[:2], strict=True):
        assert all(math.isclose(x, y, abs_tol=1e-3) for p, q in
                   zip(got["points_mm"], want["points_mm"], strict=True)
                   for x, y in zip(p, q, strict=True))
        assert got["editable"] is False and got["id"] is None
    # without include=sr only what is stored as annotations is listed
    assert all(a["origin"] == "archive" for a in listed(site, site.referrer))


def test_export_refusals(site: Site) -> None:
    r = httpx.post(site.url(suffix="/sr"), headers=site.reader.headers,
                   json={"annotation_ids": [999999]})
    assert r.status_code == 422 and "annotation 999999 is not in study" in r.text
    r = httpx.post(site.url(suffix="/sr"), headers=site.referrer.headers, json={})
    assert r.status_code == 403, r.text
    r = httpx.post(site.url(site.hidden, "/sr"), headers=site.reader.headers, json={})
    assert r.status_code == 404, r.text


def test_export_skips_annotations_whose_image_was_deleted(site: Site) -> None:
    (extra,) = make_ct(n=1, seed=613, rows=16, columns=16, study_uid=site.study)
    assert stow(site.archive, site.admin.headers, [extra]).status_code == 200
    gone = add(site, site.reader, body(extra, "length", [(1.0, 1.0), (9.0, 9.0)]))
    kept = add(site, site.reader, body(site.images[0], "length", [(1.0, 1.0), (9.0, 9.0)]))
    r = httpx.delete(f"{site.archive.dicomweb}/studies/{site.study}/series/"
                     f"{extra.SeriesInstanceUID}/instances/{extra.SOPInstanceUID}",
                     headers=site.admin.headers)
    assert r.status_code in (200, 204), r.text
    r = httpx.post(site.url(suffix="/sr"), headers=site.reader.headers, timeout=120,
                   json={"annotation_ids": [gone["id"], kept["id"]]})
    assert r.status_code == 201, r.text
    assert r.json()["skipped"] == [{"id": gone["id"], "reason": "its image "
                                    f"{extra.SOPInstanceUID} is no longer stored"}]
    assert r.json()["instances"][0]["annotations"] == [kept["id"]]
