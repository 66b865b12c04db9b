"""The report form against a real archive: editors, lifecycle, signature, PDF, dictation.

The form is driven as a notebook would drive it (``ReportForm`` with a token), through
its widgets and its async actions; the archive is the real server on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import io
import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import pypdf
import pytest
from pydicom.sr.codedict import codes

from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.people import PASSWORD, VALID_NPIS, Person, active_practice, add_member, stow
from tests.synth import from_bytes, make_ct, make_patient, make_study, to_bytes
from tests.workbench.reports.conftest import MPI_VALUES, REST, STRESS
from workbench.measure import calibration_from_dataset, measure_length, measurement_report
from workbench.measure.reference import ImageReference
from workbench.reports import builtin_templates
from workbench.reports.templates import TemplateField
from workbench.viewer.report_api import ReportApi
from workbench.viewer.reporting import ReportForm
from workbench.viewer.reporting_fields import (
    ChoiceEditor,
    NumberEditor,
    SegmentScoresEditor,
    TextEditor,
    editor_for,
)

# a real archive; one worker, in order (the later tests find what the earlier ones signed)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report-form")]


def run(coroutine: Any) -> Any:
    """Run a coroutine on a loop of its own thread (a process that also drives the
    browser has Playwright's event loop running in its main thread)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def wav(seconds: float = 0.3, rate: int = 8000) -> bytes:
    """A silent mono 16-bit WAV file."""
    data = b"\0\0" * int(seconds * rate)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data" + struct.pack("<I", len(data)) + data)


@dataclass
class Site:
    archive: RunningArchive
    physician: Person
    referrer: Person
    mpi_study: str
    ct_study: str
    key_image: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    archive = start_archive(tmp_path_factory.mktemp("report-form") / "data")
    try:
        physician = active_practice(archive, "reader@form.example", practice="Form Clinic")
        referrer = add_member(archive, physician.headers, "ref@form.example",
                              ["referring_physician"])
        patient = make_patient(1, seed=71)
        mpi = make_study(("NM",), seed=701, patient=patient,
                         study_description="Myocardial perfusion stress/rest")
        ct = make_ct(n=2, seed=702, rows=32, columns=32, patient=make_patient(2, seed=71),
                     study_uid="2.25.7020001", accession="ACC-FORM")
        length = measure_length((2, 2), (2, 12), calibration_from_dataset(ct[0]),
                                image=ImageReference.from_dataset(ct[0]))
        sr = from_bytes(to_bytes(measurement_report([length], ct)))
        content = hd.ko.KeyObjectSelection(codes.DCM.OfInterest, [ct[1]],
                                           description="Largest lesion")
        kos = hd.ko.KeyObjectSelectionDocument([ct[1]], content, hd.UID(), 99, hd.UID(), 1)
        for batch in (mpi, [*ct, sr, from_bytes(to_bytes(kos))]):
            r = stow(archive, physician.headers, batch)
            assert r.status_code == 200, r.text
        r = archive.http().post("/api/shares", headers=physician.headers, json={
            "study_uid": "2.25.7020001", "user_email": referrer.email})
        assert r.status_code == 201, r.text
        yield Site(archive, physician, referrer, str(mpi[0].StudyInstanceUID), "2.25.7020001",
                   str(ct[1].SOPInstanceUID))
    finally:
        stop_archive(archive)


def form_for(site: Site, who: Person) -> ReportForm:
    return ReportForm(api=ReportApi(site.archive.url, token=who.token))


# -- editors (no archive) -------------------------------------------------------------------
def test_editors_give_values_in_normal_form() -> None:
    template = builtin_templates().get("nuclear-cardiology-mpi")
    fields = template.fields
    text = editor_for(fields["indication"])
    assert isinstance(text, TextEditor)
    text.input.value_input = "Chest pain"
    number = editor_for(fields["lvef"])
    assert isinstance(number, NumberEditor) and "(%)" in number.input.name
    number.input.value = 58
    choice = editor_for(fields["ischemia"])
    assert isinstance(choice, ChoiceEditor)
    choice.input.value = "6736007"
    values = {"indication": text.value, "lvef": number.value, "ischemia": choice.value}
    normal = template.validate_values(values)
    assert normal["lvef"] == {"value": 58.0, "unit": "%"}
    assert normal["ischemia"]["meaning"] == "Moderate" and normal == values
    choice.input.value = ""
    text.input.param.update(value="", value_input="")
    assert choice.value is None and text.value is None
    # a loaded value shows in the widgets
    loaded = editor_for(fields["lvef"], {"value": 61.0, "unit": "%"})
    assert loaded.input.value == 61.0
    with pytest.raises(ValueError, match="lvef"):
        template.validate_values({"lvef": {"value": 140.0, "unit": "%"}})


def test_score_grid_sums_live() -> None:
    field = builtin_templates().get("nuclear-cardiology-mpi").fields["segment_scores"]
    grid = editor_for(field)
    assert isinstance(grid, SegmentScoresEditor) and grid.value is None
    grid.stress[0].value = 3
    grid.stress[6].value = 2
    grid.rest[0].value = 1
    assert (grid.value["sss"], grid.value["srs"], grid.value["sds"]) == (5, 1, 4)
    assert grid.summary_text.startswith("SSS 5 (7.4%)") and "SDS 4 (5.9%)" in grid.summary_text
    grid.with_rest = False
    assert grid.value["rest"] is None and "SRS" not in grid.summary_text
    shown = editor_for(field, {"stress": STRESS, "rest": REST})
    assert [w.value for w in shown.stress] == STRESS and shown.with_rest
    expected = sum(STRESS)
    assert shown.summary_text.startswith(f"SSS {expected} ")


def test_measurement_and_key_image_editors_offer_the_study_sources() -> None:
    template = builtin_templates().get("general-radiology")
    sources = {"measurements": [{"value": 10.0, "unit": "mm", "tracking_uid": "2.25.9",
                                 "label": "length Length", "sr_instance_uid": "2.25.8"}],
               "key_images": [{"sop_instance_uid": "2.25.7", "sop_class_uid": "1.2.3",
                               "series_uid": "2.25.6", "caption": "Lesion"}]}
    measurement = editor_for(template.fields["lesion_size"], sources=sources)
    assert len(measurement.input.options) == 2   # not linked, and the one measurement
    measurement.input.value = "2.25.9"
    images = editor_for(template.fields["key_images"], sources=sources)
    images.input.value = ["2.25.7#"]
    normal = template.validate_values({"lesion_size": measurement.value,
                                       "key_images": images.value})
    assert normal["lesion_size"]["tracking_uid"] == "2.25.9"
    assert normal["key_images"][0]["caption"] == "Lesion"
    field = TemplateField(id="size", type="measurement", label="Size")
    assert editor_for(field).value is None


# -- the form against the archive -----------------------------------------------------------
def test_write_sign_verify_addendum_and_pdf(site: Site) -> None:
    form = form_for(site, site.physician)
    run(form.open(site.mpi_study))
    assert form.writer and form.report is None and form.status == ""
    run(form.start())
    assert form.report is not None
    assert form.report["template"] == "nuclear-cardiology-mpi"   # NM: chosen by modality
    assert form.status == "draft" and form.signature == "not signed"
    editors = form.editors
    for fid, value in MPI_VALUES.items():
        if fid == "segment_scores":
            for widget, score in zip(editors[fid].stress, STRESS, strict=True):
                widget.value = score
            for widget, score in zip(editors[fid].rest, REST, strict=True):
                widget.value = score
        elif fid in ("protocol", "stress_type", "radiopharmaceutical", "perfusion_result",
                     "ischemia"):
            editors[fid].input.value = value
        elif isinstance(editors[fid], NumberEditor):
            editors[fid].input.value = value["value"] if isinstance(value, dict) else value
        else:
            editors[fid].input.value_input = value
    assert editors["segment_scores"].summary_text.startswith("SSS 11")
    editors["impression"].input.value_input = ""
    run(form.guarded(form.sign, PASSWORD))
    assert "Impression" in form.message and form.status == "draft"   # required, empty
    editors["impression"].input.value_input = MPI_VALUES["impression"]
    run(form.save())
    assert form.report["pending_version"] == 2 and form.message == "Saved."
    run(form.mark_preliminary())
    assert form.status == "preliminary"
    run(form.guarded(form.sign, "not my password"))
    assert "password" in form.message and form.status == "preliminary"
    run(form.sign(PASSWORD))
    assert form.status == "final" and form.signature == "signed, valid", form.message
    assert form.editors == {} and form.template is None      # signed: read-only text
    assert form.report["versions"][-1]["signature"]["signer_npi"] == VALID_NPIS[1]

    run(form.add_addendum("Prior study from 2024 reviewed.", "comparison"))
    assert list(form.editors) == ["text"] and form.status == "final"
    form.editors["text"].input.value_input = "Prior study from 2024 reviewed: unchanged."
    run(form.sign(PASSWORD))
    assert form.status == "appended" and form.signature == "signed, valid"
    data = run(form.fetch_pdf())
    assert data.startswith(b"%PDF-") and form.pdf_size == len(data)
    assert form._download.filename == f"report-{form.report['id']}.pdf"
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
                    .split())
    assert "SSS 11" in text and "unchanged" in text

    # a second form (another page) sees the signed report, and a tampered one is invalid
    again = form_for(site, site.physician)
    run(again.open(site.mpi_study))
    assert again.status == "appended" and again.signature == "signed, valid"


def test_reader_sees_the_signed_report_only_and_cannot_write(site: Site) -> None:
    physician = form_for(site, site.physician)
    run(physician.open(site.ct_study))
    run(physician.start("free-text"))
    physician.editors["findings"].input.value_input = "Draft words."
    run(physician.save())
    referrer = form_for(site, site.referrer)
    run(referrer.open(site.ct_study))
    assert not referrer.writer and referrer.report is None     # drafts stay internal
    assert referrer.dictation.items == []
    run(referrer.guarded(referrer.start))
    assert "403" in referrer.message


def test_linked_measurement_and_key_image_are_saved(site: Site) -> None:
    form = form_for(site, site.physician)
    run(form.open(site.ct_study))
    measurements = form.sources["measurements"]
    assert len(measurements) == 1 and measurements[0]["unit"] == "mm"
    assert [k["sop_instance_uid"] for k in form.sources["key_images"]] == [site.key_image]
    if form.report is None or form.template is None or form.template.id != "general-radiology":
        run(form.start("general-radiology"))
    form.editors["lesion_size"].input.value = measurements[0]["tracking_uid"]
    form.editors["key_images"].input.value = [f"{site.key_image}#"]
    run(form.save())
    saved = form.report["versions"][-1]["content"]["values"]
    assert saved["lesion_size"]["tracking_uid"] == measurements[0]["tracking_uid"]
    assert saved["key_images"][0]["caption"] == "Largest lesion"


def test_dictation_upload_record_play_and_transcribe(site: Site) -> None:
    form = form_for(site, site.physician)
    run(form.open(site.ct_study))
    before = len(form.dictation.items)
    stored = run(form.dictation.store(wav(), "audio/wav"))
    assert stored["state"] == "queued" and len(form.dictation.items) == before + 1

    async def record() -> None:   # what the browser's recorder sends when the reader stops
        recorder = form.dictation.recorder
        recorder.param.update(audio=base64.b64encode(wav(0.2)).decode(), media_type="audio/wav")
        recorder.clips += 1
        for _ in range(400):
            if len(form.dictation.items) == before + 2:
                return
            await asyncio.sleep(0.05)

    run(record())
    assert len(form.dictation.items) == before + 2, form.message
    run(form.dictation.play(stored["id"]))
    assert "data:audio/wav;base64,UklGR" in form.dictation.player.object
    form.dictation._list()
    assert stored["id"] in form.dictation.target.options.values()
    run(form.dictation.transcribe(stored["id"], "Dictated: no change since the prior study."))
    done = {d["id"]: d["state"] for d in form.dictation.items}
    assert done[stored["id"]] == "done"
    # typed into the study's open report (a new draft if it had none), its findings
    assert form.report is not None and form.editors["findings"].value.endswith(
        "Dictated: no change since the prior study.")
    other = form_for(site, site.physician)        # the list is the study's only
    run(other.open(site.mpi_study))
    assert other.dictation.items == [] and other.dictation.enabled


def test_in_a_notebook_with_the_connection(site: Site) -> None:
    from workbench import notebook

    async def in_a_cell() -> ReportForm:   # a kernel runs cells with its loop running
        form = ReportForm(site.mpi_study)    # wb.connect()'s archive and token; loads
        for _ in range(600):
            if form.signature:
                break
            await asyncio.sleep(0.05)
        return form

    notebook.connect(site.archive.url, site.physician.token)
    try:
        form = run(in_a_cell())
        assert form.report is not None and form.signature == "signed, valid", form.message
        assert "SSS 11" in form._signed.object
    finally:
        notebook._connection(None).close()
        notebook._current = None


def test_send_log_and_amend_a_signed_report(site: Site) -> None:
    """A signed report goes to those the study is shared with; an amendment is signed."""
    series = make_ct(n=1, seed=703, rows=16, columns=16, patient=make_patient(3, seed=71),
                     study_uid="2.25.7030001", accession="ACC-SEND")
    assert stow(site.archive, site.physician.headers, series).status_code == 200
    r = site.archive.http().post("/api/shares", headers=site.physician.headers, json={
        "study_uid": "2.25.7030001", "user_email": site.referrer.email})
    assert r.status_code == 201, r.text
    form = form_for(site, site.physician)
    run(form.open("2.25.7030001"))
    run(form.guarded(form.delivery.send))
    assert "sign it first" in form.message                 # nothing signed yet
    run(form.start("free-text"))
    form.editors["findings"].input.value_input = "Small nodule <b>left</b> apex."
    form.editors["impression"].input.value_input = "Follow up in 6 months."
    run(form.sign(PASSWORD))
    assert form.status == "final" and form.delivery.deliveries == []
    signed = int(form.report["versions"][-1]["number"])
    run(form.delivery.send())
    sent = form.delivery.deliveries
    assert [d["recipient_user_id"] for d in sent] == [site.referrer.user_id]
    assert {d["version"] for d in sent} == {signed}
    assert "<td>" in form.delivery._log.object and "<b>" not in form.delivery._log.object

    run(form.guarded(form.delivery.amend, " "))
    assert "reason" in form.message
    run(form.delivery.amend("Side corrected"))
    assert form.editors["findings"].value == "Small nodule <b>left</b> apex."
    form.editors["findings"].input.value_input = "Small nodule, right apex."
    run(form.sign(PASSWORD))
    assert form.status == "amended" and form.signature == "signed, valid", form.message
    run(form.delivery.refresh())   # the archive re-sends the amendment to the referrer
    assert any(d["version"] > signed for d in form.delivery.deliveries)
