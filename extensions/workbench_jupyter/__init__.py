"""JupyterLab and JupyterHub integration of workbench.

* :func:`setup_workbench` is the ``jupyter-server-proxy`` entry point (group
  ``jupyter_serverproxy_servers``): it runs the reading app
  (:mod:`workbench_jupyter.lab`) inside the user's Jupyter server at
  ``<server>/workbench/``, with a launcher icon and title.
* :mod:`workbench_jupyter.server` is the Jupyter server extension that gives the app the
  server's contents root, for DICOM files of the file browser
  (``<server>/workbench/files?path=P``, :mod:`workbench_jupyter.local`).
* ``labextension/`` is the prebuilt JupyterLab extension ("Open in workbench" in the file
  browser), shipped as ``share/jupyter/labextensions/workbench-labextension``.
* ``extensions/jupyterhub_config.py`` runs the archive as a managed Hub service at
  ``/services/archive/`` (see ``docs/jupyter.md``).

Nothing here imports Jupyter: the proxy reads the dictionary this module returns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["ICON", "LABEXTENSION", "PATH", "TITLE", "setup_workbench"]

LABEXTENSION = "workbench-labextension"
"""The JupyterLab extension's name (``share/jupyter/labextensions/<name>``)."""


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension (:mod:`workbench_jupyter.server`)."""
    return [{"module": "workbench_jupyter.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension, for ``jupyter labextension develop``."""
    return [{"src": "labextension", "dest": LABEXTENSION}]


PATH = "workbench"
"""Where the app lives under the user's server: ``/user/<name>/workbench/``."""
TITLE = "Workbench"
"""Launcher title."""
ICON = Path(__file__).with_name("icons") / "workbench.svg"
"""Launcher icon."""


def setup_workbench() -> dict[str, Any]:
    """The ``jupyter-server-proxy`` configuration of the in-Lab reading app.

    The proxy starts ``python -m workbench_jupyter.lab`` on a Unix socket in a private
    temporary folder the first time ``<server>/workbench/`` is opened, and forwards
    requests to it with their full path (``absolute_url``), so the app serves its pages
    under that prefix. The app reaches
    the archive as the user (``WORKBENCH_URL``, the Hub token) and forwards the browser's
    DICOMweb requests there, so the browser stays on the Lab's origin.

    Returns
    -------
    dict
        ``command``, ``unix_socket``, ``absolute_url``, ``timeout`` and
        ``launcher_entry`` as
        ``jupyter-server-proxy`` expects them.

    Examples
    --------
    >>> config = setup_workbench()
    >>> config["launcher_entry"]["title"]
    'Workbench'
    >>> config["absolute_url"]
    True
    """
    return {
        "command": [sys.executable, "-m", "workbench_jupyter.lab", "--unix-socket",
                    "{unix_socket}", "--prefix", "{base_url}" + PATH],
        "unix_socket": True,
        "absolute_url": True,
        "timeout": 60,
        "new_browser_tab": False,
        "launcher_entry": {"enabled": True, "title": TITLE, "icon_path": str(ICON),
                           "path_info": PATH + "/", "category": "Notebook"},
    }
