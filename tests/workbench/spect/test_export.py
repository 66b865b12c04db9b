"""The dashboard's exports against a real archive: "Send to report" and "Export SR".

A reading physician's practice on the archive holds a small stress/rest phantom study;
the dashboard opens it by UID with the physician's archive client and report API (as the
reading app does), sends the results into the study's report (created, then updated with
the physician's own text kept, then refused once signed), and stores the TID 1500 SR,
which is read back from the archive with the values of the analysis. A referring
physician can do neither.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pydicom
import pytest

from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.people import PASSWORD, Person, active_practice, add_member, stow
from tests.workbench.spect.cases import SMALL
from workbench.dicomweb.client import HttpArchiveClient
from workbench.spect.export_sr import read_spect_sr
from workbench.spect.phantom import make_phantom, phantom_datasets, stress_rest_specs
from workbench.spect.report import study_to_dict
from workbench.spect.report_fields import report_values
from workbench.viewer.report_api import ReportApi
from workbench.viewer.spect import SpectDashboard

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spect-export")]

MANUAL = {"indication": "Chest pain on exertion", "protocol": "mpi-1day-rest-stress",
          "stress_type": "stress-regadenoson", "radiopharmaceutical": "rp-tc99m-tetrofosmin",
          "perfusion_findings": "Written by the physician.", "perfusion_result": "17621005",
          "impression": "Normal perfusion."}  # fmt: skip


def run(coroutine: Any) -> Any:
    """Run a coroutine on a loop of its own thread (as the viewer tests do)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@dataclass
class Site:
    archive: RunningArchive
    physician: Person
    referrer: Person
    study_uid: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    archive = start_archive(tmp_path_factory.mktemp("spect-export") / "data")
    try:
        physician = active_practice(archive, "reader@spect.example", practice="SPECT Clinic")
        referrer = add_member(archive, physician.headers, "ref@spect.example",
                              ["referring_physician"])  # fmt: skip
        stress, rest = (make_phantom(s) for s in stress_rest_specs(SMALL, tid=1.2))
        datasets = phantom_datasets([stress, rest])
        r = stow(archive, physician.headers, datasets)
        assert r.status_code == 200, r.text
        yield Site(archive, physician, referrer, str(datasets[0].StudyInstanceUID))
    finally:
        stop_archive(archive)


def dashboard(site: Site, who: Person) -> SpectDashboard:
    client = HttpArchiveClient(site.archive.dicomweb, token=site.physician.token)
    return SpectDashboard(site.study_uid, client=client, background=False,
                          reports=ReportApi(site.archive.url, token=who.token))  # fmt: skip


def test_send_to_report_creates_updates_and_stops_at_the_signature(site: Site) -> None:
    dash = dashboard(site, site.physician)
    assert dash.data is not None, dash.status
    api = ReportApi(site.archive.url, token=site.physician.token)
    run(dash.export.send())
    sent = dash.export.sent
    assert sent is not None and sent.created, dash.export.message
    expected = report_values(dash.data.study)
    report = api.report(sent.report_id)
    values = report["versions"][-1]["content"]["values"]
    for field in ("lvef", "edv", "esv", "tid_ratio", "segment_scores"):
        assert values[field] == expected[field], field
    assert values["perfusion_findings"].startswith("Automated scores")
    assert 'data-field="lvef"' in dash.export._sent.object

    # the physician writes; the reader moves the valve plane and sends again
    api.save(sent.report_id, {**values, **MANUAL}, int(report["versions"][-1]["number"]))
    dash.valve_shift_mm = 6.0
    dash.reorient()
    run(dash.export.send())
    again = dash.export.sent
    assert again is not None and not again.created and again.report_id == sent.report_id
    values = api.report(sent.report_id)["versions"][-1]["content"]["values"]
    assert values["edv"] == report_values(dash.data.study)["edv"] != expected["edv"]
    assert values["perfusion_findings"] == MANUAL["perfusion_findings"]   # kept
    assert values["indication"] == MANUAL["indication"]

    api.sign(sent.report_id, PASSWORD)
    signed = api.report(sent.report_id)
    run(dash.export.send())
    assert "signed" in dash.export.message and "not changed" in dash.export.message
    assert api.report(sent.report_id)["versions"] == signed["versions"]


def test_export_sr_is_stored_and_reads_back(site: Site) -> None:
    dash = dashboard(site, site.physician)
    assert dash.data is not None, dash.status
    run(dash.export.store())
    uid = dash.export.sr_uid
    assert uid, dash.export.message
    client = HttpArchiveClient(site.archive.dicomweb, token=site.physician.token)
    series = client.search_for_series(site.study_uid, match={"Modality": "SR"})
    found = None
    for item in series:
        series_uid = item["0020000E"]["Value"][0]
        for instance in client.search_for_instances(site.study_uid, series_uid):
            if instance["00080018"]["Value"][0] == uid:
                found = client.retrieve_instance(site.study_uid, series_uid, uid)
    assert found is not None, "the SR is not in the study"
    back = read_spect_sr(pydicom.dcmread(io.BytesIO(found)))
    expected = study_to_dict(dash.data.study)
    for state in ("stress", "rest"):
        assert back[state] == {k: expected[state][k] for k in back[state]}
        assert back[state]["segment_scores"] == expected[state]["segment_scores"]
    assert back["study"]["tid"] == expected["tid"]


def test_a_referrer_can_neither_send_nor_store(site: Site) -> None:
    dash = dashboard(site, site.referrer)
    dash.export.client = HttpArchiveClient(site.archive.dicomweb, token=site.referrer.token)
    before = ReportApi(site.archive.url, token=site.physician.token).study_reports(site.study_uid)
    run(dash.export.send())
    assert dash.export.message.startswith("Not sent:") and dash.export.sent is None
    run(dash.export.store())
    assert dash.export.message.startswith("SR not stored:") and not dash.export.sr_uid
    after = ReportApi(site.archive.url, token=site.physician.token).study_reports(site.study_uid)
    assert after == before
