"""The archive serves web apps from the ``workbench.apps`` entry points; the viewer is one."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import server.main
from server.config import Settings
from workbench.viewer.app import mount

MOUNTED: list[FastAPI] = []


def record_mount(app: FastAPI) -> None:
    """A web app that only notes that it was mounted."""
    MOUNTED.append(app)

    @app.get("/", include_in_schema=False)
    def home() -> dict[str, str]:
        return {"app": "test"}


def points(*values: str) -> list[EntryPoint]:
    return [EntryPoint(f"app{k}", value, server.main.APP_GROUP) for k, value in enumerate(values)]


def test_apps_are_mounted_and_take_the_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    found = points(f"{__name__}:record_mount", "workbench.no_such_module:mount")
    monkeypatch.setattr(server.main, "entry_points", lambda group: found)
    with caplog.at_level(logging.ERROR, logger="workbench.server"):
        app = server.main.create_app(Settings(data_dir=tmp_path / "data"))
    assert MOUNTED[-1] is app
    assert "could not be loaded" in caplog.text           # a broken app is left out
    with TestClient(app) as client:
        assert client.get("/").json() == {"app": "test"}   # the app, not the landing page
        assert client.get("/healthz").status_code == 200


def test_without_apps_the_landing_page_stays(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setattr(server.main, "entry_points", lambda group: [])
    app = server.main.create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app) as client:
        assert "workbench archive" in client.get("/").text


def test_the_reading_app_page_and_its_static_files(tmp_path: Path) -> None:
    app = FastAPI()
    mount(app)
    paths = {getattr(route, "path", "") for route in app.router.routes}
    assert {"/", "/ws", "/static"} <= paths
    with TestClient(app) as client:
        page = client.get("/")
        assert page.status_code == 200 and "bokeh" in page.text
        assert client.get("/static/js/bokeh.min.js").status_code == 200
