"""The notebook API and the Jupyter pieces that need no Hub: discovery, search, viewer,
the server-proxy entry, the archive behind a service prefix."""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

import workbench as wb
from server.auth.hub import HubServiceMiddleware
from tests.conftest import ROOT, RunningArchive
from tests.server.people import stow
from tests.synth import make_ct, make_patient
from workbench import notebook
from workbench.errors import WorkbenchError

sys.path.insert(0, str(ROOT / "extensions"))  # until the distribution ships the package
import workbench_jupyter  # noqa: E402


def test_find_archive_prefers_workbench_variables() -> None:
    env = {"WORKBENCH_URL": "http://a:1/", "WORKBENCH_TOKEN": "w", "JUPYTERHUB_API_TOKEN": "h",
           "JUPYTERHUB_PUBLIC_URL": "https://hub.example"}
    assert notebook.find_archive(env) == ("http://a:1", "w")
    env = {"JUPYTERHUB_PUBLIC_URL": "https://hub.example", "JUPYTERHUB_BASE_URL": "/jh/",
           "JUPYTERHUB_API_TOKEN": "h", "WORKBENCH_SERVICE": "pacs"}
    assert notebook.find_archive(env) == ("https://hub.example/jh/services/pacs", "h")
    with pytest.raises(WorkbenchError, match="WORKBENCH_URL"):
        notebook.find_archive({})


def test_server_proxy_entry_point() -> None:
    config = workbench_jupyter.setup_workbench()
    assert config["launcher_entry"]["title"] == "Workbench"
    assert workbench_jupyter.ICON.is_file()
    assert config["unix_socket"] is True and "{unix_socket}" in config["command"]
    assert config["command"][-1] == "{base_url}workbench"


def test_import_workbench_stays_light() -> None:
    import subprocess

    code = ("import sys, workbench; heavy = {'pandas', 'panel', 'workbench.notebook'} & "
            "set(sys.modules); print(sorted(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


def test_connect_studies_and_open(archive: RunningArchive, monkeypatch: Any) -> None:
    study = make_ct(n=3, rows=32, columns=32, seed=71, accession="ACC-NB-1",
                    patient=make_patient(71), study_uid="2.25.7100001")
    assert stow(archive, archive.headers, study).status_code == 200
    monkeypatch.setenv("WORKBENCH_URL", archive.url)
    monkeypatch.setenv("WORKBENCH_TOKEN", archive.token)
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    connection = wb.connect()
    try:
        table = wb.studies(AccessionNumber="ACC-NB-1")
        assert list(table.columns) == list(notebook.STUDY_COLUMNS)
        row = table.iloc[0]
        assert (row.study_uid, row.modalities, row.instances) == ("2.25.7100001", "CT", 3)
        viewer = wb.open("2.25.7100001")
        assert type(viewer).__name__ == "SliceViewer"
        assert viewer.dicomweb_root == archive.dicomweb
        assert viewer.headers == {"Authorization": f"Bearer {archive.token}"}
        monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
        inside = wb.connect()
        assert inside.browser_root == "/user/alice/workbench/dicom-web"
        assert inside.browser_headers == {}
    finally:
        connection.close()
        notebook.connect(archive.url, archive.token).close()


def test_archive_answers_under_the_hub_service_prefix() -> None:
    app = FastAPI()

    @app.get("/api/where")
    def where(request: Request) -> dict[str, str]:
        return {"root": request.scope.get("root_path", "")}

    app.add_middleware(HubServiceMiddleware, prefix="/services/archive/", oauth=True)

    async def calls() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            return [await client.get("/services/archive/api/where"),
                    await client.get("/api/where"),
                    await client.get("/services/archive/"),
                    await client.get("/services/archive/", headers={"Cookie": "wb_session=x"})]

    with ThreadPoolExecutor(1) as thread:  # a loop of its own (Playwright may hold this one)
        prefixed, plain, page, with_session = thread.submit(asyncio.run, calls()).result()
    assert prefixed.json() == {"root": "/services/archive"}
    assert plain.json() == {"root": ""}
    assert page.status_code == 302
    assert page.headers["location"] == "/services/archive/api/auth/hub"
    assert with_session.status_code == 404   # no page here: it was passed on
