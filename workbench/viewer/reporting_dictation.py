# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""Dictation in the report form: record or upload audio, play it, type the transcript.

The recorder (:class:`~workbench.viewer.reporting_fields.AudioRecorder`) and the file
upload store audio with the study (``POST /api/studies/{study}/dictations``), where it
waits for a transcriptionist. The study's dictations are listed with a player (the
audio travels through Python, so the player also works in a notebook whose page cannot
reach the archive); the typed transcript goes into the report's open version
(``POST /api/dictations/{id}/transcript``).
"""

from __future__ import annotations

import base64
import re
from functools import partial
from typing import TYPE_CHECKING, Any

import panel as pn
import param

from workbench.viewer.reporting_fields import AudioRecorder

if TYPE_CHECKING:
    from workbench.viewer.reporting import ReportForm

__all__ = ["DictationPanel", "audio_data_url"]

_MEDIA_TYPE = re.compile(r"^(audio|video)/[a-z0-9.+-]{1,40}$")
TRANSCRIBERS = {"reading_physician", "transcriptionist"}
"""Roles that may list, play and transcribe dictation."""


def audio_data_url(data: bytes, media_type: str) -> str:
    """A ``data:`` URL of audio bytes (an unexpected MIME type becomes ``audio/wav``).

    Examples
    --------
    >>> audio_data_url(b"RIFF", "audio/wav")
    'data:audio/wav;base64,UklGRg=='
    """
    kind = media_type.split(";")[0].strip().lower()
    kind = kind if _MEDIA_TYPE.match(kind) else "audio/wav"
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


class DictationPanel(param.Parameterized):
    """The dictation part of a :class:`~workbench.viewer.reporting.ReportForm`."""

    items = param.List(default=[], doc="The study's dictations, as the archive lists them.")
    playing = param.Integer(default=None, allow_None=True, doc="Dictation in the player.")
    enabled = param.Boolean(default=False, doc="""
        The user may work with dictation (reading physician or transcriptionist).""")

    def __init__(self, form: ReportForm, **params: Any) -> None:
        super().__init__(**params)
        self.form = form
        self.recorder = AudioRecorder()
        self.recorder.param.watch(self._recorded, "clips")
        self.upload = pn.widgets.FileInput(accept="audio/*,.wav,.webm,.ogg,.mp3,.m4a",
                                           label="Dictation file",
                                           css_classes=["wb-dictation-file"])
        self.upload_button = pn.widgets.Button(label="Upload dictation", width=150)
        self.upload_button.on_click(lambda _: self.form._schedule(self.upload_file))
        self.listing = pn.Column(sizing_mode="stretch_width")
        self.player = pn.pane.HTML("", sizing_mode="stretch_width")
        self.transcript = pn.widgets.TextAreaInput(label="Transcript", rows=3,
                                                   sizing_mode="stretch_width")
        self.target = pn.widgets.Select(label="Dictation to transcribe", width=320)
        self.submit = pn.widgets.Button(label="Type into report", width=150)
        self.submit.on_click(lambda _: self.form._schedule(
            self.transcribe, self.target.value,
            self.transcript.value_input or self.transcript.value))
        self.param.watch(lambda *_: self._list(), "items")
        title = pn.pane.Str("Dictation", styles={"font-weight": "600", "font-size": "14px"})
        self.body = pn.Column(title, self.recorder, pn.Row(self.upload, self.upload_button),
                              self.listing, self.player, self.target, self.transcript,
                              self.submit, sizing_mode="stretch_width",
                              css_classes=["wb-dictation"])
        self._list()

    @property
    def allowed(self) -> bool:
        """The user may work with dictation (reading physician or transcriptionist)."""
        return bool(TRANSCRIBERS & set(self.form._roles or []))

    # -- actions ---------------------------------------------------------------------------
    async def refresh(self) -> None:
        """List the study's dictations."""
        study = self.form.study_uid
        self.enabled = self.allowed
        self.items = (await self.form._call(self.form.api.dictations, study)
                      if study and self.allowed else [])

    async def store(self, audio: bytes, media_type: str) -> dict[str, Any]:
        """Store dictation audio with the study; it joins the transcription queue."""
        if not self.form.study_uid:
            raise ValueError("open a study before dictating")
        if not audio:
            raise ValueError("the dictation is empty")
        stored: dict[str, Any] = await self.form._call(
            self.form.api.upload_dictation, self.form.study_uid, audio, media_type)
        await self.refresh()
        self.form.message = f"Dictation {stored['id']} stored ({len(audio) // 1024} KB)."
        return stored

    async def upload_file(self) -> None:
        """Store the file chosen in the upload widget."""
        data = self.upload.value
        if not data:
            raise ValueError("choose an audio file to upload first")
        await self.store(bytes(data), self.upload.mime_type or "application/octet-stream")
        self.upload.clear()

    async def play(self, dictation_id: int) -> None:
        """Put a dictation's audio into the player."""
        data, media_type = await self.form._call(self.form.api.dictation_audio, dictation_id)
        self.player.object = (f'<audio controls class="wb-dictation-audio" '
                              f'data-dictation="{int(dictation_id)}" '
                              f'src="{audio_data_url(data, media_type)}"></audio>')
        self.playing = dictation_id

    async def transcribe(self, dictation_id: int | None, text: str) -> None:
        """Type `text` into the report's open version; the dictation is done."""
        if not dictation_id:
            raise ValueError("choose the dictation you transcribed")
        if not text.strip():
            raise ValueError("the transcript is empty: type what the dictation says")
        report = self.form.report
        await self.form._call(self.form.api.transcribe, int(dictation_id), text,
                              None if report is None else report["id"])
        self.transcript.param.update(value="", value_input="")
        await self.form.open(self.form.study_uid)

    def _recorded(self, _: param.parameterized.Event) -> None:
        if self.recorder.audio:
            audio = base64.b64decode(self.recorder.audio)
            self.recorder.audio = ""
            self.form._schedule(self.store, audio, self.recorder.media_type or "audio/webm")

    def _play_clicked(self, dictation_id: int, _: Any) -> None:
        self.form._schedule(self.play, dictation_id)

    # -- layout ----------------------------------------------------------------------------
    def _list(self) -> None:
        rows: list[Any] = []
        for item in self.items:
            play = pn.widgets.Button(label=f"\u25b6 Dictation {item['id']}", width=140)
            play.on_click(partial(self._play_clicked, int(item["id"])))
            rows.append(pn.Row(play, pn.pane.Str(
                f"{item['state']}, {max(1, int(item['size']) // 1024)} KB, "
                f"{item['created_at'][:19].replace('T', ' ')}")))
        self.listing.objects = rows or [pn.pane.Str("No dictation for this study yet.")]
        self.target.options = {f"Dictation {i['id']}": int(i["id"])
                               for i in self.items if i["state"] != "done"}

    def __panel__(self) -> pn.viewable.Viewable:
        return self.body
