"""The notebook API: ``import workbench as wb; wb.connect(); wb.studies(); wb.open(uid)``.

:func:`connect` finds the archive and the user's credential in the environment, so
the same notebook runs unchanged in a JupyterHub user server, in a local Lab and
under ``panel serve``:

* the archive: ``WORKBENCH_URL`` (its root, e.g. ``http://127.0.0.1:8042`` or
  ``https://hub.example/services/archive``); inside a Hub without it,
  ``JUPYTERHUB_PUBLIC_URL`` + ``JUPYTERHUB_BASE_URL`` + ``services/<WORKBENCH_SERVICE>``
  (default service name ``archive``);
* the credential: ``WORKBENCH_TOKEN`` (an API token), else ``JUPYTERHUB_API_TOKEN`` (the
  user server's Hub token, which the archive resolves to the workbench user mapped to
  the Hub user).

Searches go through :class:`~workbench.dicomweb.client.HttpArchiveClient`, so the
archive applies the user's access rules exactly as for the reading app. Pandas (the
``analysis`` extra) and the viewer (the ``viewer`` extra) are imported only when
:func:`studies` and :func:`open` need them.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.dicomweb.client import HttpArchiveClient
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas

__all__ = ["STUDY_COLUMNS", "Connection", "connect", "find_archive", "open", "studies"]

LAB_APP_PATH = "workbench"
"""Path of the in-Lab reading app under the user's server (``workbench_jupyter.PATH``)."""

STUDY_COLUMNS: dict[str, str] = {
    "study_uid": "0020000D", "patient_name": "00100010", "patient_id": "00100020",
    "birth_date": "00100030", "sex": "00100040", "study_date": "00080020",
    "study_time": "00080030", "accession": "00080050", "modalities": "00080061",
    "description": "00081030", "series": "00201206", "instances": "00201208",
}  # fmt: skip
"""Columns of :func:`studies` and the DICOM tags (QIDO-RS study attributes) they hold."""

_current: Connection | None = None


@dataclass
class Connection:
    """An archive reached as one user.

    Attributes
    ----------
    url
        The archive's root as this process reaches it (DICOMweb at ``url + "/dicom-web"``).
    client
        The DICOMweb client, carrying the user's token.
    browser_root
        The DICOMweb root as the notebook's browser page reaches it (for :func:`open`).
    browser_headers
        Headers the browser sends with its DICOMweb requests (empty on the Hub, where
        the in-Lab app forwards them with the user's credential).
    token
        The user's API or Hub token (for the JSON API, e.g. the report form).
    """

    url: str
    client: HttpArchiveClient
    browser_root: str
    browser_headers: dict[str, str] = field(default_factory=dict)
    token: str | None = None

    def close(self) -> None:
        """Close the HTTP connection."""
        self.client.close()


def find_archive(environ: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """The archive's root URL and the user's token, from the environment.

    Parameters
    ----------
    environ
        The variables to read; default ``os.environ``.

    Returns
    -------
    tuple
        ``(url, token)``; the token is None when none is set.

    Raises
    ------
    WorkbenchError
        When no variable names the archive.

    Examples
    --------
    >>> find_archive({"WORKBENCH_URL": "http://127.0.0.1:8042/", "WORKBENCH_TOKEN": "t"})
    ('http://127.0.0.1:8042', 't')
    >>> find_archive({"JUPYTERHUB_PUBLIC_URL": "https://hub.example/",
    ...               "JUPYTERHUB_BASE_URL": "/", "JUPYTERHUB_API_TOKEN": "h"})
    ('https://hub.example/services/archive', 'h')
    """
    env = os.environ if environ is None else environ
    token = env.get("WORKBENCH_TOKEN") or env.get("JUPYTERHUB_API_TOKEN") or None
    url = env.get("WORKBENCH_URL", "")
    if not url and env.get("JUPYTERHUB_PUBLIC_URL"):
        origin = env["JUPYTERHUB_PUBLIC_URL"].rstrip("/")
        base = env.get("JUPYTERHUB_BASE_URL", "/").strip("/")
        service = env.get("WORKBENCH_SERVICE", "archive")
        url = "/".join(part for part in (origin, base, "services", service) if part)
    if not url:
        raise WorkbenchError("no archive configured: set WORKBENCH_URL (the archive's root, "
                             "e.g. http://127.0.0.1:8042) and WORKBENCH_TOKEN, or run inside "
                             "a JupyterHub whose spawner sets WORKBENCH_URL")
    return url.rstrip("/"), token


def _browser_root(url: str, environ: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """Where the notebook's page fetches pixels, and with which headers."""
    prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:  # a Hub user server: the in-Lab app forwards, on the Lab's origin
        return f"{prefix.rstrip('/')}/{LAB_APP_PATH}/dicom-web", {}
    return url + "/dicom-web", {}


def connect(url: str | None = None, token: str | None = None, *,
            browser_root: str | None = None, timeout: float = 120) -> Connection:
    """Connect to the archive; later calls of :func:`studies` and :func:`open` use it.

    Parameters
    ----------
    url, token
        The archive's root and an API or Hub token; default: :func:`find_archive`.
    browser_root
        The DICOMweb root as the browser reaches it; default: the in-Lab app on a Hub
        (``$JUPYTERHUB_SERVICE_PREFIX/workbench/dicom-web``), else ``url + "/dicom-web"``
        with the token sent by the browser.
    timeout
        Seconds to wait for the archive.

    Returns
    -------
    Connection
        The connection, also remembered as the default.
    """
    global _current
    found_url, found_token = (url, token) if url else find_archive()
    found_token = token or found_token
    root, headers = _browser_root(found_url.rstrip("/"), os.environ)
    if not os.environ.get("JUPYTERHUB_SERVICE_PREFIX") and found_token:
        headers = {"Authorization": f"Bearer {found_token}"}
    client = HttpArchiveClient(found_url.rstrip("/") + "/dicom-web", token=found_token,
                               timeout=timeout)
    if _current is not None:
        _current.close()
    _current = Connection(found_url.rstrip("/"), client, browser_root or root, headers,
                          found_token)
    return _current


def _connection(connection: Connection | None) -> Connection:
    return connection or _current or connect()


def _value(item: Mapping[str, Any], tag: str) -> Any:
    """The first value of a DICOM JSON attribute as plain Python (names as ``Alphabetic``)."""
    values = item.get(tag, {}).get("Value") or []
    if not values:
        return None
    if len(values) > 1:
        return "\\".join(str(v) for v in values)
    value = values[0]
    return value.get("Alphabetic") if isinstance(value, dict) else value


def studies(connection: Connection | None = None, *, limit: int | None = None,
            fuzzy: bool = False, **match: str) -> pandas.DataFrame:
    """Search the archive's studies the user may see (QIDO-RS).

    Parameters
    ----------
    connection
        Default: the last :func:`connect` (connecting first if needed).
    limit, fuzzy
        QIDO-RS ``limit`` and ``fuzzymatching``.
    **match
        Matching keys by DICOM keyword, e.g. ``PatientName="*doe*"``,
        ``StudyDate="20260101-20260131"``, ``ModalitiesInStudy="CT"``.

    Returns
    -------
    pandas.DataFrame
        One row per study, columns :data:`STUDY_COLUMNS`, newest first as the archive
        answers.
    """
    import pandas as pd

    found = _connection(connection).client.search_for_studies(
        match=match, fuzzy=fuzzy, limit=limit, include_fields=("StudyDescription",))
    rows = [{name: _value(item, tag) for name, tag in STUDY_COLUMNS.items()} for item in found]
    return pd.DataFrame(rows, columns=builtins.list(STUDY_COLUMNS))


def open(study_uid: str, series_uid: str | None = None, *,  # noqa: A001 (wb.open)
         connection: Connection | None = None) -> Any:
    """Show a series of a study inline: the reading viewer for it, a param object.

    Parameters
    ----------
    study_uid
        Study Instance UID.
    series_uid
        The series to show; default: the study's first series with images (else its
        first series).
    connection
        Default: the last :func:`connect`.

    Returns
    -------
    param.Parameterized
        A :mod:`workbench.viewer` viewer (``SliceViewer``, ``CineViewer``, ``EcgViewer``,
        ``DocumentViewer``); displayed by the notebook or ``panel serve``, its ``slice``,
        ``window`` and ``level`` follow the reader.
    """
    from workbench.viewer.reading import make_viewer
    from workbench.viewer.series import SeriesKind, describe_series
    from workbench.viewer.waveforms import load_waveform

    conn = _connection(connection)
    client = conn.client
    if series_uid is None:
        found = client.search_for_series(study_uid)
        if not found:
            raise WorkbenchError(f"study {study_uid} has no series you may see")
        uids = [str(_value(item, "0020000E")) for item in found]
        series_uid = uids[0]
        for uid in uids:
            kind = describe_series(client.retrieve_series_metadata(study_uid, uid)).kind
            if kind in (SeriesKind.IMAGE, SeriesKind.CINE):
                series_uid = uid
                break
    series = describe_series(client.retrieve_series_metadata(study_uid, series_uid))
    waveform = load_waveform(client, series) if series.kind is SeriesKind.WAVEFORM else None
    return make_viewer(series, waveform=waveform, dicomweb_root=conn.browser_root,
                       archive_root=client.url, headers=conn.browser_headers)
