# mypy: disable-error-code="no-untyped-call"
"""DICOM files of the Lab's file browser in the viewer, and "upload to archive".

The in-Lab app (:mod:`workbench_jupyter.lab`) serves ``<server>/workbench/files?path=P``
where ``P`` is a path relative to the Jupyter server's contents root (the file
browser's paths, as "Copy Path" gives them): a ``.dcm`` file or a folder of them
(searched recursively). The page shows each series in the slice viewer (pixels from this
process, :class:`workbench.viewer.Viewer` over an ``xarray`` volume) and offers
"Upload to archive": the files are stored (STOW-RS) in the archive the user is connected
to, as the user.

The contents root is ``WORKBENCH_LAB_ROOT`` (set by the server extension,
:mod:`workbench_jupyter.server`, to the server's ``root_dir``), else the working folder
the proxy started the app in (the server's own). Paths leaving the root (``..``,
absolute paths, symbolic links pointing out) are refused.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import pydicom
import xarray as xr
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from workbench.dicomweb.client_base import ArchiveClient, StoreResult
from workbench.errors import WorkbenchError
from workbench.imaging.volume import series_volume
from workbench.viewer import Viewer

__all__ = ["MAX_FILES", "LocalSeries", "contents_root", "load_series", "page_factory",
           "resolve_in_root"]

MAX_FILES = 5000
"""At most this many files are read from one folder."""


def contents_root(environ: dict[str, str] | None = None) -> Path:
    """The Jupyter server's contents root: ``WORKBENCH_LAB_ROOT``, else the working folder.

    Examples
    --------
    >>> contents_root({"WORKBENCH_LAB_ROOT": "/srv/lab"}).as_posix()
    '/srv/lab'
    """
    env = os.environ if environ is None else environ
    return Path(env.get("WORKBENCH_LAB_ROOT") or os.getcwd()).resolve()


def resolve_in_root(root: Path, relative: str) -> Path:
    """The file or folder at ``relative`` under ``root``, refusing anything outside it.

    Parameters
    ----------
    root
        The contents root (resolved).
    relative
        A file-browser path (``/``-separated, relative to the root; a leading ``/`` is
        ignored as the Lab's paths have none).

    Returns
    -------
    Path
        The resolved path, inside ``root``.

    Raises
    ------
    ValueError
        The path leaves the root (``..``, a link pointing out) or does not exist.

    Examples
    --------
    >>> resolve_in_root(Path("/"), "../etc")
    Traceback (most recent call last):
    ...
    ValueError: path '../etc' leaves the Lab's contents root
    """
    parts = [p for p in relative.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"path {relative!r} leaves the Lab's contents root")
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"path {relative!r} leaves the Lab's contents root")
    if not path.exists():
        raise ValueError(f"path {relative!r} does not exist under the Lab's contents root")
    return path


@dataclass(frozen=True)
class LocalSeries:
    """The instances of one series found in the files, and its display name."""

    uid: str
    label: str
    datasets: tuple[Dataset, ...]

    def volume(self) -> xr.DataArray:
        """The series as an array the viewer shows (modality values).

        Parallel slices with geometry give a volume in mm
        (:func:`~workbench.imaging.volume.series_volume`); other images (projection
        X-ray, frames without geometry) a ``("frame", "y", "x")`` stack.
        """
        try:
            return series_volume(list(self.datasets))
        except (ValueError, WorkbenchError):
            pass
        frames = []
        for ds in sorted(self.datasets, key=lambda d: int(getattr(d, "InstanceNumber", 0) or 0)):
            pixels = np.asarray(ds.pixel_array, dtype=np.float32)
            if pixels.ndim == 2:
                pixels = pixels[np.newaxis]
            if pixels.ndim != 3:
                raise ValueError(f"series {self.label}: colour images (shape {pixels.shape}) "
                                 "are not shown; open the archive's viewer after upload")
            slope = float(getattr(ds, "RescaleSlope", 1) or 1)
            frames.append(pixels * slope + float(getattr(ds, "RescaleIntercept", 0) or 0))
        shapes = {f.shape[1:] for f in frames}
        if len(shapes) != 1:
            raise ValueError(f"series {self.label}: images of sizes {sorted(shapes)} "
                             "(Rows, Columns) cannot be shown as one stack")
        return xr.DataArray(np.concatenate(frames), dims=("frame", "y", "x"), name=self.label)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found: list[Path] = []
    for folder, _, names in os.walk(path):
        for name in sorted(names):
            if not name.startswith("."):
                found.append(Path(folder) / name)
                if len(found) > MAX_FILES:
                    raise ValueError(f"folder {path.name!r} holds more than {MAX_FILES} "
                                     "files; open a sub-folder")
    return found


def load_series(path: Path) -> tuple[list[LocalSeries], list[str]]:
    """Read the DICOM files at ``path`` (a file or a folder, recursively), by series.

    Returns
    -------
    tuple
        The series with pixel data (in series number order), and the names of files
        left out (not DICOM, or without pixels or UIDs).
    """
    by_series: dict[str, list[Dataset]] = {}
    skipped: list[str] = []
    for file in _files(path):
        try:
            ds = pydicom.dcmread(file)
        except (InvalidDicomError, OSError, ValueError):
            skipped.append(file.name)
            continue
        uid = str(getattr(ds, "SeriesInstanceUID", "") or "")
        if not uid or "PixelData" not in ds or not getattr(ds, "SOPInstanceUID", ""):
            skipped.append(file.name)
            continue
        by_series.setdefault(uid, []).append(ds)
    series = []
    for uid, datasets in by_series.items():
        first = datasets[0]
        label = " ".join(str(v) for v in (getattr(first, "Modality", ""),
                                          getattr(first, "SeriesNumber", ""),
                                          getattr(first, "SeriesDescription", "")) if v)
        series.append(LocalSeries(uid, f"{label or uid} ({len(datasets)})", tuple(datasets)))
    series.sort(key=lambda s: (int(getattr(s.datasets[0], "SeriesNumber", 0) or 0), s.uid))
    return series, skipped


def _upload_summary(result: StoreResult) -> str:
    text = f"Stored {len(result.stored)} instance(s) in the archive."
    if result.failed:
        reasons = "; ".join(f"{uid or 'unreadable'}: {why}" for uid, _, why in result.failed[:3])
        text += f" {len(result.failed)} refused ({reasons})."
    return text


def page_factory(client_factory: Any, root: Path | None = None) -> Any:
    """The Panel page of ``files?path=P``.

    Parameters
    ----------
    client_factory
        Called once per page: returns ``(ArchiveClient, close)``, the user's archive
        client for uploads and what to call when the page closes.
    root
        The contents root (default: :func:`contents_root`).
    """

    def page() -> pn.viewable.Viewable:
        """One reader's page of local files."""
        base = root or contents_root()
        status = pn.pane.Str("Reading files...", css_classes=["wb-status"])
        body = pn.Column(sizing_mode="stretch_both")
        top = pn.Row(pn.pane.Str("workbench: local files", styles={"font-weight": "600"}),
                     sizing_mode="stretch_width")
        root_column = pn.Column(top, status, body, sizing_mode="stretch_both",
                                css_classes=["wb-app", "wb-local"])
        relative = (pn.state.session_args.get("path") or [b""])[0].decode()

        async def start() -> None:
            try:
                path = resolve_in_root(base, relative)
                series, skipped = await asyncio.to_thread(load_series, path)
            except ValueError as error:
                status.object = str(error)
                status.css_classes = ["wb-status", "wb-problem"]
                return
            if not series:
                status.object = f"no DICOM images in {relative!r}"
                status.css_classes = ["wb-status", "wb-problem"]
                return
            status.object = (f"{relative}: {len(series)} series"
                             + (f", {len(skipped)} file(s) left out" if skipped else ""))
            _show(series, body, top, client_factory)

        pn.state.onload(start)
        return root_column

    return page


def _show(series: Sequence[LocalSeries], body: pn.Column, top: pn.Row,
          client_factory: Any) -> None:
    """Put the series chooser, the viewer and the upload button on the page."""
    labels = {s.label: s for s in series}
    chooser = pn.widgets.Select(name="Series", options=list(labels), width=320)
    upload = pn.widgets.Button(name="Upload to archive", button_type="primary", width=180,
                               css_classes=["wb-upload"])
    uploaded = pn.pane.Str("", css_classes=["wb-uploaded"])

    def show(label: str) -> None:
        try:
            body.objects = [Viewer(labels[label].volume())]
        except (ValueError, WorkbenchError) as error:
            body.objects = [pn.pane.Str(str(error), css_classes=["wb-problem"])]

    async def send(_: Any) -> None:
        upload.disabled = True
        uploaded.object = "Uploading..."
        datasets = [ds for s in series for ds in s.datasets]
        client: ArchiveClient
        client, close = client_factory()
        try:
            result = await asyncio.to_thread(client.store_instances, datasets)
            uploaded.object = _upload_summary(result)
        except WorkbenchError as error:
            uploaded.object = f"Upload failed: {error}"
        finally:
            close()
            upload.disabled = False

    chooser.param.watch(lambda event: show(event.new), "value")
    upload.on_click(send)
    top.objects = [*top.objects, pn.Spacer(), chooser, upload, uploaded]
    show(chooser.value)
