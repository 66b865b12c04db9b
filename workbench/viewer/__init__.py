"""The reading viewer: worklist, study browser, static, cine, ECG and document viewers.

The only package that imports Panel, HoloViews, Bokeh or ipywidgets. It reaches an
archive through :class:`~workbench.dicomweb.client_base.ArchiveClient` (HTTP) and the
browser's own fetches, never through server internals. Viewers are param objects
(state in parameters, layout in ``__panel__``); the browser components fetch pixels
straight from WADO-RS and window them on the GPU. :func:`workbench.viewer.app.mount`
serves the reading app from the archive (entry point group ``workbench.apps``);
:class:`Viewer` shows a study or a notebook's own array in a notebook cell.
"""

from workbench.viewer.notebook import Viewer
from workbench.viewer.reading import ReadingApp, make_viewer
from workbench.viewer.series import SeriesDisplay, SeriesKind, describe_series
from workbench.viewer.viewers import CineViewer, SliceViewer
from workbench.viewer.waveforms import DocumentViewer, EcgViewer, load_waveform
from workbench.viewer.worklist import StudyBrowser, Worklist

__all__ = [
    "CineViewer", "DocumentViewer", "EcgViewer", "ReadingApp", "SeriesDisplay", "SeriesKind",
    "SliceViewer", "StudyBrowser", "Viewer", "Worklist", "describe_series", "load_waveform",
    "make_viewer",
]  # fmt: skip
