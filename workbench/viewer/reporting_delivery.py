# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""The report form's "Send and amend" part: distribution, the delivery log, amendments.

A signed report goes to its recipients (by default everyone the study is shared with,
each by their own preference: e-mail link or attachment, fax); the physician sees every
delivery's state, attempts and last error, and retries failed ones. An amendment
replaces the signed values (with a reason) and is signed like the original; the archive
re-sends an amended report to everyone who received the earlier version.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import panel as pn
import param

if TYPE_CHECKING:
    from workbench.viewer.reporting import ReportForm

__all__ = ["DeliveryPanel", "delivery_rows"]

COLUMNS = ("recipient", "channel", "address", "version", "state", "attempts", "last_error",
           "sent_at")
"""Delivery log columns, in the order shown."""


def delivery_rows(deliveries: list[dict[str, Any]]) -> str:
    """The delivery log as an HTML table; every value is escaped (names are user data)."""
    if not deliveries:
        return "<p>Not sent yet.</p>"
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in COLUMNS)
    body = "".join(
        "<tr data-state=\"{}\">{}</tr>".format(
            html.escape(str(d.get("state", ""))),
            "".join(f"<td>{html.escape('' if d.get(c) is None else str(d.get(c)))}</td>"
                    for c in COLUMNS))
        for d in deliveries)
    return f"<table class=\"wb-deliveries\"><tr>{head}</tr>{body}</table>"


class DeliveryPanel(param.Parameterized):
    """Send a signed report, watch its deliveries, retry failures, start an amendment."""

    deliveries = param.List(default=[], doc="The report's delivery log, newest first.")

    def __init__(self, form: ReportForm, **params: Any) -> None:
        super().__init__(**params)
        self.form = form
        self._send = pn.widgets.Button(label="Send to recipients", width=170,
                                       color="primary")
        self._send.on_click(lambda _: form._schedule(self.send))
        self._refresh = pn.widgets.Button(label="Refresh log", width=120)
        self._refresh.on_click(lambda _: form._schedule(self.refresh))
        self._retry = pn.widgets.Button(label="Retry failed", width=120)
        self._retry.on_click(lambda _: form._schedule(self.retry_failed))
        self._log = pn.pane.HTML(delivery_rows([]), sizing_mode="stretch_width")
        self._reason = pn.widgets.TextInput(label="Reason for the amendment", width=320)
        self._amend = pn.widgets.Button(label="Start amendment", width=150)
        self._amend.on_click(lambda _: form._schedule(
            self.amend, self._reason.value_input or self._reason.value))

    async def send(self) -> None:
        """Distribute the signed report; show the deliveries queued."""
        report = self._signed_report()
        self.deliveries = await self.form._call(self.form.api.distribute, report["id"])
        self._show()
        self.form.message = f"Queued {len(self.deliveries)} deliveries."

    async def refresh(self) -> None:
        """Fetch the delivery log again."""
        if self.form.report is None:
            self.deliveries = []
        else:
            self.deliveries = await self.form._call(self.form.api.deliveries,
                                                    self.form.report["id"])
        self._show()

    async def retry_failed(self) -> None:
        """Queue every failed delivery again."""
        failed = [d for d in self.deliveries if d.get("state") == "failed"]
        for delivery in failed:
            await self.form._call(self.form.api.retry_delivery, int(delivery["id"]))
        await self.refresh()
        self.form.message = f"Retrying {len(failed)} failed deliveries."

    async def amend(self, reason: str) -> None:
        """Open an amendment of the signed report, starting from the values in force."""
        report = self._signed_report()
        if not reason.strip():
            raise ValueError("give the reason for the amendment first")
        parsed = self.form.parsed
        assert parsed is not None
        content = parsed.in_force.content
        await self.form._show(await self.form._call(
            self.form.api.amend, report["id"], dict(content.values), reason, content.template))
        self.form.message = "Amendment opened: change the fields, then sign it."

    def _signed_report(self) -> dict[str, Any]:
        parsed = self.form.parsed
        if self.form.report is None or parsed is None or not parsed.signed:
            raise ValueError("only a signed report can be sent or amended: sign it first")
        return self.form.report

    def _show(self) -> None:
        self._log.object = delivery_rows(self.deliveries)

    def layout(self) -> pn.viewable.Viewable:
        """The part shown under a signed report."""
        return pn.Column(
            pn.pane.Str("Distribution", styles={"font-weight": "600"}),
            pn.Row(self._send, self._refresh, self._retry), self._log,
            pn.Row(self._reason, self._amend), sizing_mode="stretch_width",
            css_classes=["wb-report-delivery"])
