"""The Jupyter server extension of workbench: tells the in-Lab app the contents root.

Enabled by ``jupyter-config/jupyter_server_config.d/workbench_jupyter.json`` (installed
into ``etc/jupyter``) or ``--ServerApp.jpserver_extensions``. At start-up it puts the
server's ``root_dir`` into ``WORKBENCH_LAB_ROOT``, which the processes
``jupyter-server-proxy`` starts inherit, so that ``<server>/workbench/files?path=P``
(:mod:`workbench_jupyter.local`) resolves ``P`` as the file browser does, whatever
folder the server was started in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["ROOT_VARIABLE"]

ROOT_VARIABLE = "WORKBENCH_LAB_ROOT"
"""The environment variable holding the contents root."""


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Record the server's contents root for the in-Lab app.

    Parameters
    ----------
    serverapp
        The ``jupyter_server.serverapp.ServerApp`` loading the extension.
    """
    root = str(Path(os.path.expanduser(str(serverapp.root_dir))).resolve())
    os.environ[ROOT_VARIABLE] = root
    serverapp.log.info("workbench: Lab files under %s open at <server>/workbench/files", root)
