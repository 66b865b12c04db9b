"""DICOM files of the Lab's file browser in the viewer, and "upload to archive".

A real Jupyter server on loopback (``jupyter server``, with jupyter-server-proxy and the
workbench server extension enabled by the shipped ``jupyter-config`` file), its contents
root a folder other than its working folder; the in-Lab app is started by the proxy on
first use. Chromium opens ``/workbench/files?path=scans/ct``, sees the series drawn
from the files, uploads them, and the archive then has the study.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, RunningArchive
from tests.jupyter.conftest import local_jupyter
from tests.synth import make_ct, make_patient

sys.path.insert(0, str(ROOT / "extensions"))  # until the distribution ships the package
from workbench_jupyter import local  # noqa: E402

TOKEN = "tests-lab-files-token"
STUDY_UID = "2.25.7300001"


def _write_study(folder: Path) -> None:
    folder.mkdir(parents=True)
    for index, ds in enumerate(make_ct(n=6, rows=48, columns=40, seed=73,
                                       patient=make_patient(73), study_uid=STUDY_UID)):
        ds.save_as(folder / f"slice{index:02d}.dcm", enforce_file_format=True)
    (folder / "notes.txt").write_text("not DICOM")


def test_resolve_in_root_refuses_leaving_the_root(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    (root / "a").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (root / "out").symlink_to(tmp_path / "secret")
    assert local.resolve_in_root(root, "/a/") == root / "a"
    for bad in ("../secret", "a/../../secret", "out"):
        with pytest.raises(ValueError, match="leaves the Lab's contents root"):
            local.resolve_in_root(root, bad)
    with pytest.raises(ValueError, match="does not exist"):
        local.resolve_in_root(root, "missing.dcm")


def test_load_series_groups_files_and_leaves_out_the_rest(tmp_path: Path) -> None:
    _write_study(tmp_path / "ct")
    series, skipped = local.load_series(tmp_path / "ct")
    assert skipped == ["notes.txt"]
    assert len(series) == 1 and len(series[0].datasets) == 6
    assert series[0].volume().shape == (6, 48, 40)
    one, _ = local.load_series(tmp_path / "ct" / "slice00.dcm")
    assert one[0].volume().shape[-2:] == (48, 40)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, archive: RunningArchive
        ) -> Iterator[tuple[str, Path]]:
    """A Jupyter server whose root is ``<tmp>/lab`` while it runs in ``<tmp>/elsewhere``."""
    pytest.importorskip("jupyter_server_proxy", reason="pip install jupyter-server-proxy")
    base = tmp_path_factory.mktemp("lab-files")
    root, cwd = base / "lab", base / "elsewhere"
    cwd.mkdir()
    _write_study(root / "scans" / "ct")
    with local_jupyter("jupyter_server", base, root, archive, TOKEN, cwd=cwd,
                       timeout=60) as server:
        yield server.url, server.log


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_files_page_needs_the_servers_authentication(lab: tuple[str, Path]) -> None:
    url, _ = lab
    answer = httpx.get(f"{url}/workbench/files?path=scans/ct", timeout=30)
    assert answer.status_code in (302, 403), answer.status_code


@pytest.mark.browser
@pytest.mark.slow
def test_lab_files_open_in_the_viewer_and_upload(lab: tuple[str, Path], chromium: Any,
                                                 archive: RunningArchive) -> None:
    url, log = lab
    context = chromium.new_context(viewport={"width": 1200, "height": 800},
                                   extra_http_headers={"Authorization": f"token {TOKEN}"})
    try:
        page = context.new_page()
        page.goto(f"{url}/workbench/files?path=../elsewhere", timeout=90_000)
        page.get_by_text("'../elsewhere' leaves the Lab's contents root").wait_for(
            timeout=90_000)     # Panel's panes keep their text in a shadow root

        answer = page.goto(f"{url}/workbench/files?path=scans/ct")
        # framed by the Lab only (its "Open in workbench" tab), never by another site
        assert answer.headers.get("content-security-policy") == "frame-ancestors 'self'"
        view = page.locator(".wb-viewport").first
        view.wait_for(timeout=60_000)
        attr = lambda name: str(view.get_attribute(f"data-{name}") or "")  # noqa: E731
        _wait(lambda: attr("loaded") == "6", 60, "the six slices sent by the in-Lab app")
        page.get_by_text("scans/ct: 1 series, 1 file(s) left out").wait_for(timeout=10_000)

        before = httpx.get(f"{archive.dicomweb}/studies", headers=archive.headers,
                           params={"StudyInstanceUID": STUDY_UID})
        assert before.status_code == 204 or before.json() == [], "stored before the upload"
        page.locator(".wb-upload button").click()
        page.get_by_text("Stored 6 instance(s) in the archive.").wait_for(timeout=60_000)
        found = httpx.get(f"{archive.dicomweb}/studies/{STUDY_UID}/instances",
                          headers=archive.headers)
        assert found.status_code == 200 and len(found.json()) == 6
    finally:
        context.close()
