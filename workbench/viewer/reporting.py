# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""The report form: write, sign and amend a study's report, in the app and in the Lab.

:class:`ReportForm` shows one study's report as its template's typed fields
(:mod:`workbench.viewer.reporting_fields`), over the archive's report API
(:class:`~workbench.viewer.report_api.ReportApi`): start from the template the
physician's preference and the modality choose, save drafts, mark preliminary, sign
after a confirmation with the password, add signed addenda, see whether the signatures
verify, fetch the PDF, and record, upload, play and transcribe dictation.

Archive calls block, so the ``async`` methods run them on a worker thread and change
parameters afterwards on the caller's event loop (the reading app's page runs on the
archive's own loop); tests run them with ``asyncio.run``. In a notebook::

    import workbench as wb
    from workbench.viewer.reporting import ReportForm
    wb.connect()
    ReportForm("2.25.123")     # loads the study's report and displays the form
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import panel as pn
import param

from workbench.errors import WorkbenchError
from workbench.reports.model import Report, Version, VersionKind
from workbench.reports.render import rendered_sections
from workbench.reports.serial import report_from_dict
from workbench.reports.templates import Template
from workbench.viewer.report_api import ReportApi
from workbench.viewer.reporting_delivery import DeliveryPanel
from workbench.viewer.reporting_dictation import DictationPanel
from workbench.viewer.reporting_fields import FieldEditor, editor_for

__all__ = ["AUTO_TEMPLATE", "ReportForm"]

AUTO_TEMPLATE = "By my preference and the study's modality"
"""Label of the template choice that lets the archive choose."""
WRITERS = {"reading_physician"}
"""Roles that write and sign reports (``docs/reports.md``, Permissions)."""


def _signed_line(version: Version) -> str:
    signature = version.signature
    if signature is None:
        return f"Version {version.number}: {version.state.value}, saved {version.saved_at}"
    return (f"Version {version.number}: signed by {signature.signer_name} (NPI "
            f"{signature.signer_npi}) at {signature.signed_at}")


class ReportForm(param.Parameterized):
    """A study's report as a form: fields, lifecycle buttons, signature state, PDF.

    Parameters
    ----------
    study_uid
        The study's UID, or a reference to a parameter holding it (the study browser's
        ``param.study`` keeps the form on the study the reader opened).
    api
        The archive's report API; default: the notebook connection (``wb.connect()``).
    """

    study_uid = param.String(default="", allow_refs=True, doc="The study reported on.")
    report = param.Dict(default=None, allow_None=True, doc="""
        The report as the archive answered it (``GET /api/reports/{id}``); None before
        one is started.""")
    status = param.String(default="", doc="Report status: draft, preliminary, final, ...")
    signature = param.String(default="", doc="""
        The signature check: ``signed, valid``, ``signed, INVALID: ...`` or ``not signed``.""")
    message = param.String(default="", doc="The last error or note, as text for the reader.")
    writer = param.Boolean(default=False, doc="The user writes and signs reports.")
    pdf_size = param.Integer(default=0, doc="Bytes of the PDF last fetched.")

    def __init__(self, study_uid: Any = "", *, api: ReportApi | None = None,
                 **params: Any) -> None:
        if api is None:
            from workbench.notebook import _connection

            connection = _connection(None)
            api = ReportApi(connection.url, token=connection.token)
        super().__init__(study_uid=study_uid, **params)
        self.api = api
        self.template: Template | None = None
        self.editors: dict[str, FieldEditor] = {}
        self.sources: dict[str, Any] = {}
        self._roles: list[str] | None = None
        self._ignore_study = False
        self._template_options: dict[str, str] = {AUTO_TEMPLATE: ""}
        self._build()
        self.dictation = DictationPanel(form=self)
        self.delivery = DeliveryPanel(self)
        self._dictation_slot = pn.Column(sizing_mode="stretch_width")
        self.param.watch(self._study_changed, "study_uid")
        if self.study_uid:
            self._schedule(self.open, self.study_uid)

    def _study_changed(self, event: param.parameterized.Event) -> None:
        if not self._ignore_study:
            self._schedule(self.open, event.new)

    # -- state -----------------------------------------------------------------------------
    @property
    def parsed(self) -> Report | None:
        """The report as a :class:`~workbench.reports.model.Report` value."""
        return None if self.report is None else report_from_dict(self.report)

    def values(self) -> dict[str, Any]:
        """The editors' values in normal form, checked against the template.

        Raises
        ------
        ValueError
            A value the template refuses; the message names the field.
        """
        if self.template is None:
            raise ValueError("no report is open in the form")
        raw = {fid: e.value for fid, e in self.editors.items() if e.value is not None}
        return self.template.validate_values(raw)

    def missing(self) -> list[str]:
        """Labels of required fields still empty."""
        return [] if self.template is None else self.template.missing_required(self.values())

    def _changed(self) -> bool:
        report = self.parsed
        if report is None or report.pending is None:
            return False
        return self.values() != dict(report.pending.content.values)

    # -- actions (async: archive calls run on a thread) --------------------------------------
    @staticmethod
    async def _call(function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(function, *args)

    async def guarded(self, action: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run an action; an archive or data error becomes ``message`` for the reader."""
        self.message = ""
        try:
            await action(*args)
        except (WorkbenchError, ValueError) as exc:
            self.message = str(exc)

    def _schedule(self, action: Callable[..., Awaitable[Any]], *args: Any) -> None:
        pn.state.execute(partial(self.guarded, action, *args))

    async def open(self, study_uid: str) -> None:
        """Load the study's report (the newest one), its template and sources."""
        if self._roles is None:
            self._roles = list((await self._call(self.api.me)).get("roles", []))
            self.writer = bool(WRITERS & set(self._roles))
            listed = await self._call(self.api.templates)
            self._template_options = {AUTO_TEMPLATE: "",
                                      **{t["title"]: t["id"] for t in listed}}
            self._template_select.options = self._template_options
        if self.study_uid != study_uid:
            self._ignore_study = True
            try:
                self.study_uid = study_uid
            finally:
                self._ignore_study = False
        found = await self._call(self.api.study_reports, study_uid) if study_uid else []
        report = await self._call(self.api.report, found[-1]["id"]) if found else None
        self.sources = (await self._call(self.api.sources, study_uid)
                        if study_uid and self.writer else {})
        await self._show(report)
        await self.dictation.refresh()
        self._dictation_slot.objects = [self.dictation.body] if self.dictation.enabled else []

    async def start(self, template_id: str | None = None) -> None:
        """Start a draft report of the study (default: the archive chooses the template)."""
        if not self.study_uid:
            raise ValueError("open a study before starting its report")
        await self._show(await self._call(self.api.create, self.study_uid, template_id or None))

    async def save(self) -> None:
        """Store the fields as a new version of the open draft, preliminary or addendum."""
        report = self._open_report()
        values = self.values()
        latest = int(self.report["versions"][-1]["number"]) if self.report else 0
        assert self.template is not None
        await self._show(await self._call(self.api.save, report.uid, values, latest,
                                          self.template.id))
        self.message = "Saved."

    async def mark_preliminary(self) -> None:
        """Save if changed, then mark the report preliminary."""
        report = self._open_report()
        if self._changed():
            await self.save()
        await self._show(await self._call(self.api.mark_preliminary, report.uid))

    async def sign(self, password: str | None) -> None:
        """Save if changed, then sign the open version; check the signatures after."""
        report = self._open_report()
        missing = self.missing()
        if missing:
            raise ValueError("fill the required fields before signing: " + ", ".join(missing))
        if self._changed():
            await self.save()
        answer = await self._call(self.api.sign, report.uid, password or None)
        await self._show(answer)
        self.message = ("Signed." if not answer.get("archive_error") else
                        f"Signed; storing the SR and PDF in the study failed: "
                        f"{answer['archive_error']}")

    async def add_addendum(self, text: str, reason: str = "") -> None:
        """Open an addendum of the signed report with `text`; sign it to append it."""
        if self.report is None:
            raise ValueError("there is no report to add to")
        if not text.strip():
            raise ValueError("the addendum is empty: type its text first")
        await self._show(await self._call(self.api.add_addendum, self.report["id"], text,
                                          reason))

    async def verify(self) -> None:
        """Check every signature of the report with the archive (``signature``)."""
        report = self.parsed
        if report is None or not report.signed:
            self.signature = "not signed"
            return
        check = await self._call(self.api.verify, report.uid)
        self.signature = ("signed, valid" if check["valid"] else
                          f"signed, INVALID: {check['summary']}")

    async def fetch_pdf(self) -> bytes:
        """Fetch the report's PDF and offer it for download and preview."""
        if self.report is None:
            raise ValueError("there is no report yet")
        data: bytes = await self._call(self.api.pdf, self.report["id"])
        self.pdf_size = len(data)
        self._download.param.update(file=io.BytesIO(data),
                                    filename=f"report-{self.report['id']}.pdf")
        self._pdf_row.objects = [self._pdf, self._download]
        self._preview.objects = [pn.pane.PDF(data, embed=True, height=560,
                                             sizing_mode="stretch_width")]
        return data

    def _open_report(self) -> Report:
        report = self.parsed
        if report is None or report.pending is None:
            raise ValueError("the report has no open version: it is signed (add an addendum)")
        return report

    async def _show(self, answer: dict[str, Any] | None) -> None:
        """Show a report the archive answered: template, editors, status, signature."""
        self.report = answer
        report = self.parsed
        open_version = None if report is None else report.pending
        template = None
        if open_version is not None:
            content = open_version.content
            template = await self._call(self.api.template, content.template,
                                        content.template_version)
        elif report is not None:
            content = report.in_force.content
            template = await self._call(self.api.template, content.template,
                                        content.template_version)
        signed_templates = {}
        if report is not None:
            for version in (report.in_force, *report.addenda):
                content = version.content
                signed_templates[version.number] = await self._call(
                    self.api.template, content.template, content.template_version)
        self.status = "" if report is None else report.status.value
        self._arrange(report, template, open_version, signed_templates)
        if report is not None and open_version is None and report.signed and self.writer:
            await self.delivery.refresh()
        await self.verify()

    # -- layout ----------------------------------------------------------------------------
    def _click(self, action: Callable[..., Awaitable[Any]], *args: Any) -> Callable[[Any], None]:
        return lambda _: self._schedule(action, *args)

    def _build(self) -> None:
        button = partial(pn.widgets.Button, width=150)
        self._template_select = pn.widgets.Select(label="Template",
                                                  options=self._template_options, width=320)
        self._start = button(label="Start report", color="primary")
        self._start.on_click(lambda _: self._schedule(self.start, self._template_select.value))
        self._save = button(label="Save draft")
        self._save.on_click(self._click(self.save))
        self._preliminary = button(label="Mark preliminary")
        self._preliminary.on_click(self._click(self.mark_preliminary))
        self._sign_open = button(label="Sign\u2026", color="success")
        self._password = pn.widgets.PasswordInput(label="Password (to sign)", width=240)
        self._confirm = button(label="Confirm and sign", color="danger")
        self._cancel = button(label="Cancel")
        self._confirm_box = pn.Column(
            pn.pane.Str("Signing makes this version final and binding: later changes are "
                        "addenda, never edits."), pn.Row(self._password),
            pn.Row(self._confirm, self._cancel),
            css_classes=["wb-report-confirm"], styles={"border": "1px solid #b91c1c",
                                                        "padding": "6px"})
        self._sign_open.on_click(partial(self._confirming, True))
        self._cancel.on_click(partial(self._confirming, False))
        self._confirm.on_click(self._confirmed)
        self._addendum_text = pn.widgets.TextAreaInput(label="Addendum text", rows=3,
                                                       sizing_mode="stretch_width")
        self._addendum_reason = pn.widgets.TextInput(label="Reason for the addendum", width=320)
        self._addendum = button(label="Start addendum")
        self._addendum.on_click(lambda _: self._schedule(
            self.add_addendum, self._addendum_text.value_input or self._addendum_text.value,
            self._addendum_reason.value_input or self._addendum_reason.value))
        self._pdf = button(label="Prepare PDF")
        self._pdf.on_click(self._click(self.fetch_pdf))
        self._download = pn.widgets.FileDownload(width=320,
                                                 filename="report.pdf", color="primary")
        # the PDF pane is made with its data (an empty embedded PDF pane breaks the page)
        self._preview = pn.Column(sizing_mode="stretch_width")
        # Parts are shown by putting them into the body (not by ``visible``: Bokeh does not
        # render a hidden widget, and changing one that was never rendered fails in JS).
        self._start_row = pn.Row(self._template_select, self._start)
        self._no_report = pn.pane.Str("No report of this study yet.")
        self._signed = pn.pane.Str("", css_classes=["wb-report-text"],
                                   sizing_mode="stretch_width",
                                   styles={"white-space": "pre-wrap"})
        self._fields = pn.Column(sizing_mode="stretch_width")
        self._actions = pn.Row()
        self._confirm_slot = pn.Column()
        self._addendum_box = pn.Column(
            pn.pane.Str("Add to the signed report:"), self._addendum_text,
            pn.Row(self._addendum_reason, self._addendum), sizing_mode="stretch_width")
        self._pdf_row = pn.Row(self._pdf)
        self._body = pn.Column(sizing_mode="stretch_width")

    def _confirming(self, shown: bool, _: Any = None) -> None:
        self._confirm_slot.objects = [self._confirm_box] if shown else []

    def _confirmed(self, _: Any) -> None:
        password = self._password.value_input or self._password.value
        self._password.param.update(value="", value_input="")
        self._confirm_slot.objects = []
        self._schedule(self.sign, password)

    def _signed_text(self, report: Report, templates: dict[int, Template]) -> str:
        """The report in force and its signed addenda, as read-only text."""
        blocks: list[str] = []
        for version in (report.in_force, *report.addenda):
            if not version.signed:
                continue
            lines = [_signed_line(version)]
            if version.kind is VersionKind.ADDENDUM:
                lines[0] = "Addendum. " + lines[0]
            for section in rendered_sections(version.content, templates[version.number]):
                lines.append(section.title.upper())
                lines += [f"  {line.label}: {line.text}" for line in section.lines]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def _arrange(self, report: Report | None, template: Template | None,
                 open_version: Version | None, signed: dict[int, Template]) -> None:
        """Show what fits the report's state; only the field editors are made anew."""
        self.template = template if open_version is not None else None
        self.editors = {}
        self._signed.object = "" if report is None else self._signed_text(report, signed)
        parts: list[Any] = []
        self._fields.objects = []
        if report is None:
            parts.append(self._start_row if self.writer else self._no_report)
        else:
            if self._signed.object:
                parts.append(self._signed)
            if open_version is not None and template is not None:
                self._fields.objects = [self._editors_layout(template, open_version)]
                draft = (open_version.kind is VersionKind.ORIGINAL and not report.signed
                         and open_version.state.value == "draft")
                self._actions.objects = [self._save, *([self._preliminary] if draft else []),
                                         self._sign_open]
                parts += [self._fields, self._actions, self._confirm_slot]
            elif self.writer:
                parts.append(self._addendum_box)
            if open_version is None and report.signed and self.writer:
                parts.append(self.delivery.layout())
            parts += [self._pdf_row, self._preview]
        self._confirm_slot.objects = []
        self._pdf_row.objects = [self._pdf]        # the PDF of an older state goes
        self._preview.objects = []
        self._body.objects = parts

    def _editors_layout(self, template: Template, version: Version) -> pn.viewable.Viewable:
        values = version.content.values
        sections = []
        for section in template.sections:
            widgets = []
            for field in section.fields:
                editor = editor_for(field, values.get(field.id), self.sources)
                self.editors[field.id] = editor
                widgets.append(editor)
            sections.append(pn.Column(pn.pane.Str(section.title, styles={
                "font-weight": "600", "font-size": "14px"}), *widgets,
                sizing_mode="stretch_width"))
        title = "Addendum" if version.kind is VersionKind.ADDENDUM else template.title
        return pn.Column(pn.pane.Str(title, styles={"font-size": "15px", "font-weight": "600"}),
                         *sections, sizing_mode="stretch_width", css_classes=["wb-report-fields"])

    def __panel__(self) -> pn.viewable.Viewable:
        header = pn.Row(
            pn.pane.Str(self.param.status, css_classes=["wb-report-status"],
                        styles={"font-weight": "600"}),
            pn.pane.Str(self.param.signature, css_classes=["wb-report-signature"]),
            sizing_mode="stretch_width")
        note = pn.pane.Str(self.param.message, css_classes=["wb-report-message"],
                           styles={"color": "#b91c1c"})
        return pn.Column(header, note, self._body, self._dictation_slot,
                         sizing_mode="stretch_width", css_classes=["wb-report"])
