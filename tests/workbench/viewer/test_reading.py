"""The worklist, the study browser and the reading workspace over a local-folder archive."""

from __future__ import annotations

import asyncio
import datetime
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydicom.dataset import Dataset

from tests.workbench.viewer.conftest import OTHER_STUDY, STUDY, XSS_NAME, series_uid
from workbench.dicomweb.local_archive import LocalFolderArchiveClient
from workbench.errors import NotFoundError
from workbench.viewer.reading import ReadingApp
from workbench.viewer.viewers import CineViewer, SliceViewer
from workbench.viewer.waveforms import DocumentViewer, EcgViewer
from workbench.viewer.worklist import StudyBrowser, Worklist

Instances = dict[str, list[Dataset]]



def run(coroutine: Any) -> Any:
    """Run a coroutine on a loop of its own thread: a test process that also drives the
    browser has Playwright's event loop running in its main thread."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()

def test_worklist_query_keys() -> None:
    worklist = Worklist(patient_name="do?", patient_id="P1", accession=" A9 ",
                        date_from=datetime.date(2026, 3, 1), date_to=datetime.date(2026, 3, 31))
    assert worklist.query() == {"PatientName": "do?", "PatientID": "P1*",
                                "AccessionNumber": "A9*", "StudyDate": "20260301-20260331"}
    worklist.param.update(date_from=None, patient_name="", patient_id="", accession="")
    assert worklist.query() == {"StudyDate": "-20260331"}
    worklist.date_from = worklist.date_to
    assert worklist.query() == {"StudyDate": "20260331"}
    worklist.clear()
    assert worklist.query() == {}


def test_worklist_search(archive: LocalFolderArchiveClient, instances: Instances) -> None:
    worklist = Worklist(dicomweb_root="/dw")
    worklist.search(archive)
    assert [row["id"] for row in worklist.results] == [STUDY, OTHER_STUDY]   # newest first
    assert worklist.table.rows == worklist.results
    row = worklist.results[0]
    assert row["date"] == "2026-03-10" and row["accession"] == "ACC-1"
    assert row["thumbnail"] == f"/dw/studies/{STUDY}/thumbnail"
    assert set(row["modalities"].split(", ")) >= {"CT", "US", "ECG"}
    # Header text stays text: the raw characters, for the browser's textContent.
    assert worklist.results[1]["name"] == "<script>alert(1)</script>, <b>bold</b>"
    assert XSS_NAME.split("^")[0] in worklist.results[1]["name"]
    worklist.param.update(modality="US")
    worklist.search(archive)
    assert [row["id"] for row in worklist.results] == [STUDY]
    worklist.param.update(modality="", date_to=datetime.date(2025, 12, 31))
    worklist.search(archive)
    assert [row["id"] for row in worklist.results] == [OTHER_STUDY]
    assert worklist.message == "1 study"


def test_choosing_a_row_sets_the_study_even_twice() -> None:
    worklist = Worklist()
    seen: list[str] = []
    worklist.param.watch(lambda e: seen.append(e.new), "study")
    for _ in range(2):
        worklist.table.selected = "1.2.3"
        worklist.table.clicks += 1
    assert seen == ["1.2.3", "1.2.3"]


def test_study_browser_lists_series_by_number(archive: LocalFolderArchiveClient,
                                              instances: Instances) -> None:
    browser = StudyBrowser()
    browser.open(archive, STUDY)
    titles = [row["title"] for row in browser.rows]
    assert [row["id"] for row in browser.rows][:2] == [series_uid(instances, "pdf"),
                                                        series_uid(instances, "ct")]
    assert titles[0].startswith("1 DOC") and browser.rows[1]["count"] == "6 objects"
    assert browser.rows[0]["thumbnail"] == ""          # no picture for a document
    assert browser.rows[1]["thumbnail"].endswith("/thumbnail")


def test_reading_app_opens_each_kind_in_its_viewer(archive: LocalFolderArchiveClient,
                                                   instances: Instances) -> None:
    app = ReadingApp(archive)
    run(app.search())
    assert len(app.worklist.results) == 2
    run(app.open_study(STUDY))
    assert app.page == "study"
    assert isinstance(app.viewers[0], DocumentViewer)     # series 1, opened first
    app.layout = "2x2"
    assert app.grid.ncols == 2 and len(app.grid.objects) == 4
    kinds = {"ct": SliceViewer, "us": CineViewer, "ecg": EcgViewer}
    for slot, (kind, cls) in enumerate(kinds.items(), start=1):
        viewer = run(app.open_series(series_uid(instances, kind)))
        assert type(viewer) is cls and app.viewers[slot] is viewer
    assert app.active == 0                               # wrapped to the first viewport
    ecg = app.viewers[3]
    assert isinstance(ecg, EcgViewer) and len(ecg.leads) == 12
    app.layout = "1x1"
    assert app.grid.ncols == 1 and len(app.grid.objects) == 1 and app.active == 0
    app.back()
    assert app.page == "worklist"


def test_reading_app_reports_archive_errors(archive: LocalFolderArchiveClient) -> None:
    app = ReadingApp(archive)
    run(app.open_study(STUDY))
    run(app._guarded(app.open_series, "2.25.999"))
    assert "999" in app.message or "no" in app.message.lower()
    with pytest.raises(NotFoundError):
        run(app.open_series("2.25.999"))
