# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""The ECG (waveform) viewer and the document viewer, as param objects.

Waveforms come calibrated from :func:`workbench.dicom.waveform.waveform_array`
(``("lead", "time")``, millivolts for voltage channels); the browser draws them on
ECG paper. Documents (encapsulated PDF) are fetched by the browser from WADO-RS bulk
data and shown in their native form.
"""

from __future__ import annotations

import math
import mimetypes
from io import BytesIO
from typing import Any

import panel as pn
import param
import xarray as xr
from pydicom import dcmread

from workbench.dicom.waveform import waveform_array
from workbench.dicomweb.client_base import ArchiveClient
from workbench.viewer.components import DocumentView, EcgView
from workbench.viewer.series import SeriesDisplay, SeriesKind
from workbench.viewer.viewers import link_params

__all__ = ["DocumentViewer", "EcgViewer", "load_waveform"]


def load_waveform(client: ArchiveClient, series: SeriesDisplay, group: int = 0) -> xr.DataArray:
    """Retrieve the first instance of a waveform series and return its leads.

    Parameters
    ----------
    client
        The archive (WADO-RS instance retrieval).
    series
        A :attr:`~workbench.viewer.series.SeriesKind.WAVEFORM` series.
    group
        Multiplex group (zero-based) of the Waveform Sequence.
    """
    if series.kind is not SeriesKind.WAVEFORM or not series.frames:
        raise ValueError(f"series {series.series_uid} holds no waveform (a {series.kind})")
    data = client.retrieve_instance(series.study_uid, series.series_uid, series.frames[0].sop_uid)
    return waveform_array(dcmread(BytesIO(data)), group)


def _lead_values(values: Any) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), 4) for v in values]


class EcgViewer(param.Parameterized):
    """The waveform viewer: a 12-lead layout on 1 mm / 5 mm paper with calibration.

    Examples
    --------
    >>> from workbench.demo import DEMO_PATIENTS, ecg
    >>> viewer = EcgViewer(waveform=waveform_array(ecg(DEMO_PATIENTS[0], seed=1, seconds=2.0)))
    >>> viewer.leads[:3], viewer.view.sampling_rate
    (['I', 'II', 'III'], 500.0)
    """

    series = param.ClassSelector(class_=SeriesDisplay, default=None, allow_None=True, doc="""
        The waveform series (for its overlay text).""")
    waveform = param.ClassSelector(class_=xr.DataArray, default=None, allow_None=True, doc="""
        Leads as :func:`workbench.dicom.waveform.waveform_array` returns them.""")
    speed: param.Selector[float] = param.Selector(
        default=25.0, objects=[12.5, 25.0, 50.0], doc="Paper speed, mm/s.")
    gain: param.Selector[float] = param.Selector(
        default=10.0, objects=[2.5, 5.0, 10.0, 20.0], doc="Gain, mm/mV.")
    layout: param.Selector[str] = param.Selector(
        default="3x4+1", objects=["3x4+1", "6x2", "12x1"], doc="""
        Lead layout: 3x4 with a lead II rhythm strip, 6x2, or one lead per row.""")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.view = EcgView()
        link_params(self, self.view, {"speed": "speed", "gain": "gain", "layout": "layout"})
        self.param.watch(lambda *_: self._show(), ["waveform", "series"])
        self._show()

    @property
    def leads(self) -> list[str]:
        """Names of the leads, in the recording's order."""
        return [] if self.waveform is None else [str(v) for v in self.waveform["lead"].values]

    def _show(self) -> None:
        title: list[str] = []
        if self.series is not None:
            overlay = self.series.overlay
            title = [" | ".join(overlay.get("top_left", [])),
                     " | ".join(overlay.get("top_right", []))]
        wave = self.waveform
        if wave is None:
            self.view.param.update(leads=[], title=title)
            return
        leads = [{"name": str(name), "values": _lead_values(wave.sel(lead=name).values)}
                 for name in wave["lead"].values]
        units = str(wave.attrs.get("units", ""))
        if units and units != "mV":
            title.append(f"Amplitudes in {units} (the grid's mm per unit)")
        self.view.param.update(leads=leads, title=[t for t in title if t],
                               sampling_rate=float(wave.attrs.get("sampling_frequency", 500.0)))

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(
            pn.widgets.Select.from_param(self.param.layout, label="Layout", width=100),
            pn.widgets.Select.from_param(self.param.speed, label="mm/s", width=80),
            pn.widgets.Select.from_param(self.param.gain, label="mm/mV", width=80))
        return pn.Column(controls, self.view, sizing_mode="stretch_width")


class DocumentViewer(param.Parameterized):
    """Shows an encapsulated document: PDF inline, otherwise a download link."""

    series = param.ClassSelector(class_=SeriesDisplay, default=None, allow_None=True, doc="""
        A PDF or document series.""")
    dicomweb_root = param.String(default="/dicom-web", doc="""
        The DICOMweb root as the browser reaches it.""")
    archive_root = param.String(default="", doc="""
        The DICOMweb root in the metadata's BulkDataURIs, replaced by ``dicomweb_root``
        (the archive writes absolute URIs for the address Python used).""")
    headers = param.Dict(default={}, doc="Extra request headers for the browser's fetch.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.view = DocumentView(headers=self.headers)
        self.param.watch(lambda *_: self._show(), ["series", "dicomweb_root", "archive_root"])
        self._show()

    @property
    def url(self) -> str:
        """The bulk data URL the browser fetches (same origin)."""
        series = self.series
        if series is None or not series.frames:
            return ""
        uri = series.bulkdata or ""
        if self.archive_root and uri.startswith(self.archive_root):
            return self.dicomweb_root + uri[len(self.archive_root):]
        if uri.startswith("/"):
            return uri
        return (f"{self.dicomweb_root}/studies/{series.study_uid}/series/{series.series_uid}/"
                f"instances/{series.frames[0].sop_uid}/bulkdata/00420011")

    def _show(self) -> None:
        mime = "application/octet-stream" if self.series is None else self.series.mime_type
        extension = mimetypes.guess_extension(mime or "") or ".bin"
        self.view.param.update(url=self.url, filename="document" + extension,
                               media_type=mime or "application/octet-stream")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.view, sizing_mode="stretch_both", min_height=640)
