# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""``Viewer(study_uid)`` or ``Viewer(dataarray)``: the slice viewer in a notebook cell.

In a notebook (or under ``panel serve``)::

    from workbench.viewer import Viewer

    viewer = Viewer(volume)          # an xarray volume: pixels come from the kernel
    viewer = Viewer(study_uid)       # a study: pixels come from the archive (wb.connect())
    viewer                           # displays; scroll, window, click in the browser ...
    viewer.slice, viewer.level, viewer.window, viewer.selection   # ... and read them here
    viewer.orientation = "coronal"   # or drive it from Python

The parameters follow the reader both ways (see :class:`~workbench.viewer.viewers.SliceViewer`):
``slice`` (zero-based, in the plane shown), ``level`` and ``window`` (window centre and
width, modality units), ``selection`` (the clicked voxel ``(slice, row, col)`` of the
acquired stack, :attr:`~SliceViewer.selection_mm` in LPS mm), ``orientation``. For a
study, ``series_uid`` selects which of its image series is shown.
"""

from __future__ import annotations

from typing import Any

import param
import xarray as xr

from workbench.dicomweb.client_base import ArchiveClient
from workbench.errors import WorkbenchError
from workbench.viewer.arrays import describe_dataarray
from workbench.viewer.display import SeriesDisplay, SeriesKind
from workbench.viewer.series import describe_series
from workbench.viewer.viewers import SliceViewer

__all__ = ["Viewer"]

_SERIES_UID = "0020000E"


class Viewer(SliceViewer):
    """The slice viewer over a notebook's array or an archived study.

    Parameters
    ----------
    source
        An ``xarray.DataArray`` (see :func:`~workbench.viewer.arrays.describe_dataarray`)
        or a Study Instance UID.
    series_uid
        For a study: the series to show first (default: its first image series).
    client
        For a study: the archive (default: the :func:`workbench.connect` connection,
        whose browser root and headers the browser then uses).
    **params
        Parameters of :class:`~workbench.viewer.viewers.SliceViewer`, e.g.
        ``dicomweb_root`` and ``headers`` for an explicit ``client``.

    Raises
    ------
    WorkbenchError
        A study without image series the user may see.
    ValueError
        An array of unsupported dims (see :func:`describe_dataarray`).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> viewer = Viewer(xr.DataArray(np.arange(24.0).reshape(2, 3, 4), dims=("z", "y", "x")))
    >>> viewer.count, viewer.view.series["kernel"]
    (2, True)
    >>> viewer.view.index = 1        # the reader scrolled in the browser
    >>> viewer.slice
    1
    """

    study_uid = param.String(default="", constant=True, doc="""
        The study shown (empty for an array).""")
    series_uid: param.Selector[str] = param.Selector(default="", objects=[""], doc="""
        The series of the study shown; choosing another one shows it.""")

    def __init__(self, source: xr.DataArray | str, series_uid: str | None = None, *,
                 client: ArchiveClient | None = None, **params: Any) -> None:
        if isinstance(source, xr.DataArray):
            display, frames = describe_dataarray(source)
            super().__init__(series=display, **params)
            self.volume: xr.DataArray | None = source
            self.client: ArchiveClient | None = None
            self.view.pixel_source = frames
            return
        if not isinstance(source, str) or not source:
            raise TypeError(f"Viewer needs an xarray.DataArray or a Study Instance UID, "
                            f"not {type(source).__name__}")
        if client is None:
            from workbench.notebook import _connection

            connection = _connection(None)
            client = connection.client
            params.setdefault("dicomweb_root", connection.browser_root)
            params.setdefault("headers", connection.browser_headers)
        shown = _image_series(client, source)
        if series_uid is not None and series_uid not in shown:
            raise WorkbenchError(f"series {series_uid} is not an image series of study "
                                 f"{source} that you may see")
        first = series_uid or next(iter(shown))
        super().__init__(series=shown[first], study_uid=source, **params)
        self.volume = None
        self.client = client
        self.param.series_uid.objects = list(shown)
        self.series_uid = first
        self.param.watch(self._series_uid_chosen, "series_uid")

    def _series_uid_chosen(self, event: param.parameterized.Event) -> None:
        if event.new and self.study_uid and self.client is not None:
            metadata = self.client.retrieve_series_metadata(self.study_uid, event.new)
            self.series = describe_series(metadata)


def _image_series(client: ArchiveClient, study_uid: str) -> dict[str, SeriesDisplay]:
    """The study's series the slice viewer shows (images and loops), in the archive's order."""
    shown = {}
    for item in client.search_for_series(study_uid):
        uid = str((item.get(_SERIES_UID, {}).get("Value") or [""])[0])
        if not uid:
            continue
        display = describe_series(client.retrieve_series_metadata(study_uid, uid))
        if display.kind in (SeriesKind.IMAGE, SeriesKind.CINE):
            shown[uid] = display
    if not shown:
        raise WorkbenchError(f"study {study_uid} has no image series you may see")
    return shown
