# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""The Gated SPECT dashboard's exports: into the study's report, and as DICOM SR.

:func:`send_to_report` fills the study's nuclear cardiology report
(``nuclear-cardiology-mpi``) with the values :func:`workbench.spect.report_fields.
report_values` maps from the analysis, through the archive's report API as the reader:

* no report yet: a draft report of that template is created with them (and the
  perfusion findings sentence of :func:`~workbench.spect.report_fields.findings_text`);
* an unsigned (draft or preliminary) report of that template: a new version of it
  with those fields replaced, every other field kept (the findings sentence only goes
  into an empty findings field, never over the reader's text);
* a signed report is never changed (an addendum or amendment is the physician's act in
  the report form), nor a report of another template: :class:`ValueError` says so.

:func:`export_sr` stores the results as a TID 1500 SR (:mod:`workbench.spect.export_sr`)
into the study through STOW-RS with the reader's archive client. :class:`SpectExport`
is the dashboard's row of buttons for both, with what was sent shown under them. Every
call blocks; the buttons run them on a worker thread.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import panel as pn
import param

from workbench.dicomweb.client_base import ArchiveClient
from workbench.errors import WorkbenchError
from workbench.reports.serial import report_from_dict
from workbench.spect.analysis import StudyAnalysis
from workbench.spect.export_sr import archive_evidence, spect_sr, store_spect_sr
from workbench.spect.report_fields import MPI_TEMPLATE, findings_text, report_values
from workbench.viewer.report_api import ReportApi

__all__ = ["ReportSent", "SpectExport", "export_sr", "send_to_report", "sent_html"]

FINDINGS_FIELD = "perfusion_findings"


@dataclass(frozen=True)
class ReportSent:
    """What :func:`send_to_report` did.

    Attributes
    ----------
    report_id
        The report filled.
    created
        True when the report was created, False when an unsigned one was updated.
    status
        The report's status afterwards (draft or preliminary).
    values
        The fields sent, in the template's normal form.
    """

    report_id: str
    created: bool
    status: str
    values: dict[str, Any] = field(default_factory=dict)


def send_to_report(api: ReportApi, study_uid: str, study: StudyAnalysis) -> ReportSent:
    """Fill the study's nuclear cardiology report with the analysis (module docstring).

    Parameters
    ----------
    api
        The archive's report API as the reader (who must write reports).
    study_uid
        The study reported on.
    study
        The analysis as shown (with the reader's corrections).

    Raises
    ------
    ValueError
        The study's newest report is signed, or follows another template; or a value
        the template refuses.
    WorkbenchError
        The archive refused (e.g. the reader may not write reports: 403).
    """
    template = api.template(MPI_TEMPLATE)
    values = report_values(study, template)
    text = findings_text(study)
    found = api.study_reports(study_uid)
    if not found:
        answer = api.create(study_uid, MPI_TEMPLATE, {**values, FINDINGS_FIELD: text or None})
        return ReportSent(str(answer["id"]), True, str(answer["status"]), values)
    latest = api.report(str(found[-1]["id"]))
    report = report_from_dict(latest)
    if report.signed:
        raise ValueError(f"the study's report is signed ({report.status.value}): it is not "
                         "changed; add an addendum or amend it in the report form")  # fmt: skip
    pending = report.pending
    assert pending is not None  # an unsigned report has an open version
    if pending.content.template != MPI_TEMPLATE:
        raise ValueError(f"the study's report follows the {pending.content.template!r} "
                         f"template, not {MPI_TEMPLATE!r}: start from that template to send "
                         "Gated SPECT results")  # fmt: skip
    merged = {**pending.content.values, **values}
    if text and not merged.get(FINDINGS_FIELD):
        merged[FINDINGS_FIELD] = text
    answer = api.save(report.uid, merged, int(latest["versions"][-1]["number"]), MPI_TEMPLATE)
    return ReportSent(str(answer["id"]), False, str(answer["status"]), values)


def export_sr(client: ArchiveClient, study_uid: str, study: StudyAnalysis,
              series_uids: Sequence[str]) -> str:  # fmt: skip
    """Make the TID 1500 SR of `study` (evidence: the NM series `series_uids` of the
    archive) and store it into the study; return its SOP Instance UID.

    Raises
    ------
    ValueError
        No series, a series without instances, or the archive refused the SR.
    WorkbenchError
        The archive refused the reader (401/403) or is unreachable.
    """
    if not series_uids:
        raise ValueError("the analysed sets name no series (SeriesInstanceUID) to refer to")
    return store_spect_sr(client, spect_sr(study, archive_evidence(client, study_uid,
                                                                   series_uids)))


def sent_html(sent: ReportSent) -> str:
    """What was sent, as an HTML list (every text escaped)."""
    e = html.escape
    items = []
    for fid, value in sent.values.items():
        if fid == "segment_scores":
            text = (f"SSS {value['sss']}" + ("" if value.get("srs") is None else
                                             f", SRS {value['srs']}, SDS {value['sds']}"))
        else:
            text = f"{value['value']:g} {value['unit']}"
        items.append(f'<li data-field="{e(fid)}">{e(fid)}: {e(text)}</li>')
    verb = "Created" if sent.created else "Updated"
    return (f"<p>{verb} report {e(sent.report_id)} ({e(sent.status)}):</p>"
            f"<ul>{''.join(items)}</ul>")


class SpectExport(param.Parameterized):
    """The dashboard's "Send to report" and "Export SR" buttons and what they did.

    Parameters
    ----------
    analysis
        Returns the analysis shown now (None while there is none).
    series_uids
        Returns the SeriesInstanceUIDs of the sets analysed.
    study_uid
        The study (None: the source was no archive study; both exports are refused).
    reports
        The archive's report API as the reader (None: no "Send to report").
    client
        The reader's archive client (None: no "Export SR").
    """

    message = param.String(default="", doc="What the last export did, or why it failed.")
    busy = param.Boolean(default=False, doc="True while an export runs.")
    sent = param.ClassSelector(class_=ReportSent, default=None, allow_None=True, doc="""
        What the last "Send to report" sent (None before).""")
    sr_uid = param.String(default="", doc="SOP Instance UID of the last SR stored.")

    def __init__(self, analysis: Callable[[], StudyAnalysis | None],
                 series_uids: Callable[[], list[str]], *, study_uid: str | None,
                 reports: ReportApi | None, client: ArchiveClient | None,
                 **params: Any) -> None:  # fmt: skip
        super().__init__(**params)
        self._analysis, self._series = analysis, series_uids
        self.study_uid, self.reports, self.client = study_uid, reports, client
        send = pn.widgets.Button(label="Send to report", width=130, disabled=self.param.busy,
                                 css_classes=["wb-spect-send-report"])  # fmt: skip
        send.on_click(lambda _: pn.state.execute(self.send))
        store = pn.widgets.Button(label="Export SR", width=100, disabled=self.param.busy,
                                  css_classes=["wb-spect-export-sr"])  # fmt: skip
        store.on_click(lambda _: pn.state.execute(self.store))
        self._sent = pn.pane.HTML("", css_classes=["wb-spect-sent"], min_width=300)
        self.panel = pn.Column(
            pn.Row(send, store, pn.pane.Str(self.param.message,
                                            css_classes=["wb-spect-export-status"])),
            self._sent)  # fmt: skip

    def _ready(self, what: str, needed: object) -> StudyAnalysis | None:
        study = self._analysis()
        if study is None or self.busy:
            self.message = "Wait for the analysis to finish."
            return None
        if not self.study_uid or needed is None:
            self.message = (f"{what} needs a study opened from the archive "
                            "(a study UID with its archive client and report API).")
            return None
        return study

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        self.busy = True
        try:
            return await asyncio.to_thread(function, *args)
        finally:
            self.busy = False

    async def send(self) -> None:
        """Send the analysis into the study's report (:func:`send_to_report`)."""
        study = self._ready("Send to report", self.reports)
        if study is None or self.reports is None or not self.study_uid:
            return
        try:
            sent = await self._run(send_to_report, self.reports, self.study_uid, study)
        except (WorkbenchError, ValueError) as exc:
            self.message = f"Not sent: {exc}"
            return
        self.sent, self._sent.object = sent, sent_html(sent)
        self.message = f"Sent to report {sent.report_id}."

    async def store(self) -> None:
        """Store the results as a TID 1500 SR in the study (:func:`export_sr`)."""
        study = self._ready("Export SR", self.client)
        if study is None or self.client is None or not self.study_uid:
            return
        try:
            uid = await self._run(export_sr, self.client, self.study_uid, study, self._series())
        except (WorkbenchError, ValueError) as exc:
            self.message = f"SR not stored: {exc}"
            return
        self.sr_uid, self.message = uid, f"SR stored: {uid}"
