"""The prebuilt JupyterLab extension: "Open in workbench" in the Lab's file browser.

A real JupyterLab (``python -m jupyterlab`` on loopback) with jupyter-server-proxy, the
workbench server extension (the shipped ``jupyter-config``) and the prebuilt extension
from ``extensions/workbench_jupyter/labextension`` found on ``JUPYTER_PATH`` the way an
installed wheel puts it under ``<prefix>/share/jupyter/labextensions``. Chromium opens
``/lab``, right-clicks a folder of DICOM files written by ``tests/synth.py`` and chooses
"Open in workbench": the viewer in the new tab shows the six slices. A double click on a
``.dcm`` file opens it in the same viewer (the ``dicom`` file type's default viewer).
"""

from __future__ import annotations

import glob
import importlib.util
import json
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, RunningArchive
from tests.jupyter.conftest import local_jupyter
from tests.synth import make_ct, make_patient

sys.path.insert(0, str(ROOT / "extensions"))  # until the distribution ships the package
import workbench_jupyter  # noqa: E402

BUILT = ROOT / "extensions" / "workbench_jupyter" / "labextension"
NAME = "workbench-labextension"
TOKEN = "tests-labextension-token"


@dataclass
class Lab:
    """The running JupyterLab."""

    url: str
    env: dict[str, str]
    log: Path


def _missing() -> str | None:
    """Why the Lab cannot run here, or None."""
    for module, package in (("jupyterlab", "jupyterlab"),
                            ("jupyter_server_proxy", "jupyter-server-proxy")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install {package})"
    if not (BUILT / "package.json").exists():
        return f"the prebuilt extension is missing at {BUILT} (see docs/jupyter.md)"
    return None


def _write_series(folder: Path) -> None:
    folder.mkdir(parents=True)
    for index, ds in enumerate(make_ct(n=6, rows=48, columns=40, seed=74,
                                       patient=make_patient(74), study_uid="2.25.7400001")):
        ds.save_as(folder / f"slice{index:02d}.dcm", enforce_file_format=True)
    (folder / "notes.txt").write_text("not DICOM")


def test_the_built_extension_is_complete_and_shipped() -> None:
    """The checked-in build loads its entry file and the wheel's data files take it all."""
    built = json.loads((BUILT / "package.json").read_text())
    assert built["name"] == NAME == workbench_jupyter.LABEXTENSION
    assert (BUILT / built["jupyterlab"]["_build"]["load"]).is_file()
    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "data-files"]
    shipped = {Path(folder) / Path(name).name: name for folder, patterns in files.items()
               for pattern in patterns for name in glob.glob(pattern, root_dir=ROOT)}
    share = Path("share/jupyter/labextensions") / NAME
    for path in [BUILT / "package.json", *(BUILT / "static").iterdir()]:
        assert share / path.relative_to(BUILT) in shipped, f"{path} is not shipped"
    assert share / "install.json" in shipped


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, archive: RunningArchive) -> Iterator[Lab]:
    """JupyterLab whose contents root holds ``scans/ct`` (six CT slices and a text file)."""
    missing = _missing()
    if missing:
        pytest.skip(missing)
    base = tmp_path_factory.mktemp("labextension")
    root = base / "lab"
    _write_series(root / "scans" / "ct")
    share = base / "share"          # <prefix>/share/jupyter as a wheel install makes it
    (share / "labextensions").mkdir(parents=True)
    (share / "labextensions" / NAME).symlink_to(BUILT, target_is_directory=True)
    with local_jupyter("jupyterlab", base, root, archive, TOKEN, JUPYTER_PATH=str(share),
                       JUPYTER_DATA_DIR=str(base / "data"),
                       JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
                       JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces")) as server:
        yield Lab(server.url, server.env, server.log)


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_the_prebuilt_extension_is_found_and_enabled(lab: Lab) -> None:
    listed = subprocess.run([sys.executable, "-m", "jupyterlab.labextensions", "list"],
                            env=lab.env, capture_output=True, text=True, timeout=120)
    lines = [line for line in (listed.stdout + listed.stderr).splitlines() if NAME in line]
    assert lines and "enabled" in lines[0] and "OK" in lines[0], listed.stdout + listed.stderr

    page = httpx.get(f"{lab.url}/lab", headers={"Authorization": f"token {TOKEN}"},
                     timeout=30)
    assert page.status_code == 200
    marker = '<script id="jupyter-config-data" type="application/json">'
    config = json.loads(page.text.split(marker, 1)[1].split("</script>", 1)[0])
    served = {extension["name"] for extension in config["federated_extensions"]}
    assert NAME in served, sorted(served)
    assert NAME not in config.get("disabledExtensions", [])


@pytest.mark.browser
@pytest.mark.slow
def test_open_in_workbench_from_the_file_browser(lab: Lab, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{lab.url}/lab/tree/scans?token={TOKEN}", timeout=90_000)
        listing = page.locator(".jp-DirListing-content")

        def item(name: str) -> Any:
            """The file browser's row of ``name``."""
            return listing.locator(".jp-DirListing-item").filter(
                has=page.get_by_text(name, exact=True))

        def current() -> str:
            """The label of the main area's current tab."""
            return str(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
                       .inner_text()).strip()

        item("ct").click(button="right", timeout=90_000)
        menu = page.locator(".lm-Menu").last
        menu.get_by_text("Open in workbench", exact=True).click(timeout=30_000)

        frame = page.frame_locator(".wb-lab-frame iframe").last
        view = frame.locator(".wb-viewport").first
        view.wait_for(timeout=90_000)
        _wait(lambda: view.get_attribute("data-loaded") == "6", 90,
              "the six slices in the viewer opened from the context menu")
        frame.get_by_text("scans/ct: 1 series, 1 file(s) left out").wait_for(timeout=30_000)
        assert current() == "ct"

        item("ct").dblclick(timeout=30_000)
        item("slice00.dcm").dblclick(timeout=30_000)
        frame = page.frame_locator(".jp-Document .wb-lab-frame iframe").last
        one = frame.locator(".wb-viewport").first
        one.wait_for(timeout=90_000)
        _wait(lambda: one.get_attribute("data-loaded") == "1", 90,
              "the slice opened by a double click on the .dcm file")
        assert current() == "slice00.dcm"

        item("notes.txt").click(button="right", timeout=30_000)
        menu = page.locator(".lm-Menu").last
        menu.get_by_text("Rename", exact=True).wait_for(timeout=30_000)
        assert not menu.get_by_text("Open in workbench", exact=True).is_visible(), (
            "offered for a text file")     # the menu keeps hidden items, hidden
        page.keyboard.press("Escape")

        # the palette opens the folder the file browser shows: its tab is there already
        page.keyboard.press("Control+Shift+C")
        palette = page.locator(".lm-CommandPalette-input")
        palette.fill("Open in workbench")
        page.locator(".lm-CommandPalette-item.lm-mod-active").get_by_text(
            "Open in workbench").wait_for(timeout=30_000)
        palette.press("Enter")
        _wait(lambda: current() == "ct", 30, "the palette to show the folder's tab again")
        assert page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab").count() == 3  # + Launcher
    finally:
        context.close()
