"""The archive as ``workbench serve`` runs it, with the reading app mounted.

The reading app joins through the ``workbench.apps`` entry point; where the installed
metadata lacks it (an install older than the entry point), it is added here, so that
the browser tests always run against the app.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

import server.main
from server.config import Settings
from workbench.viewer.app import mount


def _with_viewer() -> list[tuple[str, Callable[[FastAPI], object]]]:
    apps = _installed()
    if not any(function is mount for _, function in apps):
        apps.append(("viewer", mount))
    return apps


_installed = server.main.installed_apps


def create() -> FastAPI:
    """Factory for ``uvicorn --factory tests.browser.app_factory:create``."""
    server.main.installed_apps = _with_viewer
    return server.main.create_app(Settings())
