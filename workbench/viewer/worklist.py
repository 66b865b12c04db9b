# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""The worklist (study search) and the study's series browser, as param objects.

Both query the archive through an :class:`~workbench.dicomweb.client_base.ArchiveClient`
(QIDO-RS) and keep the answers as plain row dicts; thumbnails are URLs the browser
fetches from the archive itself (``/studies/{study}/thumbnail``,
``/studies/{study}/series/{series}/thumbnail``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import panel as pn
import param

from workbench.dicomweb.client_base import ArchiveClient
from workbench.viewer.components import TableView
from workbench.viewer.labels import person_name, pretty_date, pretty_time

__all__ = ["MODALITIES", "StudyBrowser", "Worklist", "json_value"]

MODALITIES = ("", "CT", "MR", "US", "XA", "CR", "DX", "MG", "NM", "PT", "RF", "ECG", "ES",
              "SC", "OT", "DOC", "SR")  # fmt: skip
"""Modalities offered in the search form (``""``: any)."""

_STUDY_FIELDS = ("StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                 "NumberOfStudyRelatedInstances", "PatientBirthDate", "PatientSex",
                 "AccessionNumber", "ReferringPhysicianName", "StudyTime")  # fmt: skip
_SERIES_FIELDS = ("SeriesDescription", "SeriesNumber", "Modality",
                  "NumberOfSeriesRelatedInstances")  # fmt: skip
_NOT_PICTURED = frozenset({"ECG", "HD", "EPS", "DOC", "SR", "KO", "PR", "AU", "REG", "SEG"})
_TAGS = {"StudyInstanceUID": "0020000D", "SeriesInstanceUID": "0020000E",
         "PatientName": "00100010", "PatientID": "00100020", "PatientBirthDate": "00100030",
         "PatientSex": "00100040", "StudyDate": "00080020", "StudyTime": "00080030",
         "AccessionNumber": "00080050", "StudyDescription": "00081030",
         "ModalitiesInStudy": "00080061", "NumberOfStudyRelatedSeries": "00201206",
         "NumberOfStudyRelatedInstances": "00201208", "SeriesDescription": "0008103E",
         "SeriesNumber": "00200011", "Modality": "00080060",
         "NumberOfSeriesRelatedInstances": "00201209",
         "ReferringPhysicianName": "00080090"}  # fmt: skip


def json_value(item: Mapping[str, Any], keyword: str) -> str:
    """Return an attribute of a DICOM JSON object as text (values joined by ``\\``).

    Person names give their Alphabetic group; missing attributes give ``""``.

    Examples
    --------
    >>> json_value({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]}},
    ...            "PatientName")
    'DOE^JANE'
    """
    element = item.get(_TAGS[keyword]) or {}
    values = element.get("Value") or []
    texts = [str(v.get("Alphabetic", "")) if isinstance(v, dict) else str(v) for v in values]
    return "\\".join(texts)


def choose(target: param.Parameterized, name: str, value: str) -> None:
    """Set a parameter, triggering its watchers even when the value is the same (a row
    clicked again opens again)."""
    if getattr(target, name) == value:
        target.param.trigger(name)
    else:
        setattr(target, name, value)


def _contains(text: str) -> str:
    text = text.strip()
    return text if not text or any(c in text for c in "*?") else f"*{text}*"


def _prefix(text: str) -> str:
    text = text.strip()
    return text if not text or any(c in text for c in "*?") else f"{text}*"


class Worklist(param.Parameterized):
    """Search the archive's studies by patient, ID, accession, modality and date.

    Examples
    --------
    >>> import datetime
    >>> Worklist(patient_name="doe", modality="CT",
    ...          date_from=datetime.date(2026, 1, 1)).query()
    {'PatientName': '*doe*', 'ModalitiesInStudy': 'CT', 'StudyDate': '20260101-'}
    """

    patient_name = param.String(default="", doc="""
        Part of the patient's name (case-insensitive; ``*`` and ``?`` as wildcards).""")
    patient_id = param.String(default="", doc="Start of the Patient ID (or a wildcard).")
    accession = param.String(default="", doc="Start of the Accession Number.")
    modality: param.Selector[str] = param.Selector(default="", objects=list(MODALITIES), doc="""
        A modality of the study (ModalitiesInStudy); empty for any.""")
    date_from = param.CalendarDate(default=None, allow_None=True, doc="First study date.")
    date_to = param.CalendarDate(default=None, allow_None=True, doc="Last study date.")
    limit = param.Integer(default=200, bounds=(1, 5000), doc="Most studies listed.")
    dicomweb_root = param.String(default="/dicom-web", doc="""
        The DICOMweb root as the browser reaches it (for thumbnails).""")
    results = param.List(default=[], doc="Rows of the last search (dicts, newest first).")
    study = param.String(default="", doc="StudyInstanceUID of the study chosen to open.")
    message = param.String(default="", doc="What the last search found, or why it failed.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.table = TableView(columns=[
            {"key": "name", "label": "Patient"}, {"key": "patient_id", "label": "ID"},
            {"key": "birth", "label": "Born"}, {"key": "date", "label": "Date"},
            {"key": "modalities", "label": "Modalities"},
            {"key": "description", "label": "Description"},
            {"key": "accession", "label": "Accession"},
            {"key": "counts", "label": "Series / images"}], empty="No studies found.")
        self.param.watch(lambda e: setattr(self.table, "rows", e.new), "results")
        self.table.param.watch(lambda _: choose(self, "study", self.table.selected), "clicks")

    def query(self) -> dict[str, str]:
        """Return the QIDO-RS matching keys of the form (PS3.18 8.3.4.1)."""
        match = {"PatientName": _contains(self.patient_name),
                 "PatientID": _prefix(self.patient_id),
                 "AccessionNumber": _prefix(self.accession),
                 "ModalitiesInStudy": self.modality}
        if self.date_from or self.date_to:
            start = self.date_from.strftime("%Y%m%d") if self.date_from else ""
            end = self.date_to.strftime("%Y%m%d") if self.date_to else ""
            match["StudyDate"] = start if start == end else f"{start}-{end}"
        return {k: v for k, v in match.items() if v}

    def fetch(self, client: ArchiveClient) -> list[dict[str, Any]]:
        """Run the search (blocking) and return the rows, newest study first."""
        found = client.search_for_studies(match=self.query(), include_fields=_STUDY_FIELDS,
                                          limit=self.limit)
        rows = [self.row(item) for item in found]
        return sorted(rows, key=lambda r: (r["date"], r["time"]), reverse=True)

    def show(self, rows: Sequence[dict[str, Any]]) -> None:
        """Put the rows of a search into ``results`` (on the page's thread)."""
        more = " (limit reached: narrow the search)" if len(rows) >= self.limit else ""
        self.message = f"{len(rows)} stud{'y' if len(rows) == 1 else 'ies'}{more}"
        self.results = list(rows)

    def search(self, client: ArchiveClient) -> None:
        """Search and show the results."""
        self.show(self.fetch(client))

    def row(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """One QIDO-RS study result as a row of text."""
        uid = json_value(item, "StudyInstanceUID")
        series, images = (json_value(item, k) for k in ("NumberOfStudyRelatedSeries",
                                                         "NumberOfStudyRelatedInstances"))
        return {
            "id": uid, "name": person_name(json_value(item, "PatientName")),
            "patient_id": json_value(item, "PatientID"),
            "birth": pretty_date(json_value(item, "PatientBirthDate")),
            "sex": json_value(item, "PatientSex"),
            "date": pretty_date(json_value(item, "StudyDate")),
            "time": pretty_time(json_value(item, "StudyTime")),
            "modalities": json_value(item, "ModalitiesInStudy").replace("\\", ", "),
            "description": json_value(item, "StudyDescription"),
            "accession": json_value(item, "AccessionNumber"),
            "counts": f"{series} / {images}" if series or images else "",
            "thumbnail": f"{self.dicomweb_root}/studies/{uid}/thumbnail",
        }

    def clear(self) -> None:
        """Empty the form."""
        self.param.update(patient_name="", patient_id="", accession="", modality="",
                          date_from=None, date_to=None)

    def form(self) -> pn.viewable.Viewable:
        """The search form's widgets (the caller wires the search button)."""
        return pn.Row(
            pn.widgets.TextInput.from_param(self.param.patient_name, label="Patient name",
                                            placeholder="e.g. doe", width=170),
            pn.widgets.TextInput.from_param(self.param.patient_id, label="Patient ID", width=130),
            pn.widgets.TextInput.from_param(self.param.accession, label="Accession", width=120),
            pn.widgets.Select.from_param(self.param.modality, label="Modality", width=90),
            pn.widgets.DatePicker.from_param(self.param.date_from, label="From", width=130),
            pn.widgets.DatePicker.from_param(self.param.date_to, label="To", width=130),
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.form(), pn.pane.Str(self.param.message), self.table,
                         sizing_mode="stretch_width")


class StudyBrowser(param.Parameterized):
    """The series of one study, as thumbnail cards; choosing one sets ``series``."""

    study = param.String(default="", doc="StudyInstanceUID of the open study.")
    dicomweb_root = param.String(default="/dicom-web", doc="The DICOMweb root (browser).")
    rows = param.List(default=[], doc="One row per series, by Series Number.")
    series = param.String(default="", doc="SeriesInstanceUID last chosen.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.cards = TableView(mode="cards", empty="No series.", columns=[
            {"key": "title", "label": "Series"}, {"key": "count", "label": "Images"}])
        self.param.watch(lambda e: setattr(self.cards, "rows", e.new), "rows")
        self.cards.param.watch(lambda _: choose(self, "series", self.cards.selected), "clicks")

    def fetch(self, client: ArchiveClient, study: str) -> list[dict[str, Any]]:
        """QIDO-RS the series of `study` (blocking) and return their rows."""
        found = client.search_for_series(study, include_fields=_SERIES_FIELDS)
        rows = []
        for item in found:
            uid = json_value(item, "SeriesInstanceUID")
            number = json_value(item, "SeriesNumber")
            modality = json_value(item, "Modality")
            description = json_value(item, "SeriesDescription")
            count = json_value(item, "NumberOfSeriesRelatedInstances")
            pictured = modality.upper() not in _NOT_PICTURED
            thumb = f"{self.dicomweb_root}/studies/{study}/series/{uid}/thumbnail"
            rows.append({"id": uid, "number": int(number) if number.isdigit() else 10**9,
                         "title": " ".join(t for t in (number, modality, description) if t),
                         "modality": modality, "badge": modality,
                         "count": f"{count} object{'' if count == '1' else 's'}" if count else "",
                         "thumbnail": thumb if pictured else ""})
        return sorted(rows, key=lambda r: (r["number"], r["title"]))

    def show(self, study: str, rows: Sequence[dict[str, Any]]) -> None:
        """Show the series rows of `study`."""
        self.param.update(study=study, rows=list(rows), series="")

    def open(self, client: ArchiveClient, study: str) -> None:
        """Fetch and show the series of `study`."""
        self.show(study, self.fetch(client, study))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.cards, width=150, scroll=True, sizing_mode="stretch_height")

