"""``workbench ingest`` against a real archive: folders, zips, junk, resuming, errors."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tests.conftest import ROOT, RunningArchive
from tests.workbench.dicomweb.test_client import make_test_study
from workbench.dicomweb.client import HttpArchiveClient, StoreResult, instance_bytes
from workbench.ingest import (
    IngestError,
    IngestInterrupted,
    IngestSummary,
    default_state_file,
    ingest_paths,
    iter_sources,
)


def _write(path: Path, ds: Dataset) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(instance_bytes(ds))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, list[Dataset], list[Dataset]]:
    """A folder: two series in nested folders, a copy, a zip, junk and broken files."""
    root = tmp_path / "incoming"
    first = make_test_study(11, patient_id="INGEST-1")[:3]
    second = make_test_study(12, patient_id="INGEST-2")[4:]
    _write(root / "a" / "1.dcm", first[0])
    _write(root / "a" / "b" / "2.dcm", first[1])
    _write(root / "a" / "b" / "c" / "3.dcm", first[2])
    _write(root / "copy" / "1-again.dcm", first[0])  # same instance, same bytes
    (root / "README").write_text("scans from the old PACS\n")
    whole = instance_bytes(second[2])
    (root / "broken" / "pixels-cut.dcm").parent.mkdir(parents=True)
    (root / "broken" / "pixels-cut.dcm").write_bytes(whole[: len(whole) - 1000])
    (root / "broken" / "header-cut.dcm").write_bytes(whole[:150])
    with zipfile.ZipFile(root / "more.zip", "w") as zf:
        zf.writestr("study/series/x.dcm", instance_bytes(second[0]))
        zf.writestr("study/series/y.dcm", instance_bytes(second[1]))
        zf.writestr("study/notes.txt", "not an image")
    return root, first, second


def test_iter_sources_order_and_ids(tree: tuple[Path, list[Dataset], list[Dataset]]) -> None:
    root = tree[0]
    ids = [source.id for source in iter_sources([root])]
    assert ids == [
        f"{root}/README",
        f"{root}/a/1.dcm",
        f"{root}/a/b/2.dcm",
        f"{root}/a/b/c/3.dcm",
        f"{root}/broken/header-cut.dcm",
        f"{root}/broken/pixels-cut.dcm",
        f"{root}/copy/1-again.dcm",
        f"{root}/more.zip!study/notes.txt",
        f"{root}/more.zip!study/series/x.dcm",
        f"{root}/more.zip!study/series/y.dcm",
    ]
    member = next(s for s in iter_sources([root / "more.zip"]) if s.id.endswith("x.dcm"))
    assert member.read()[128:132] == b"DICM" and member.size == len(member.read())
    with pytest.raises(FileNotFoundError):
        list(iter_sources([root / "missing"]))


def _check_first_run(summary: IngestSummary, root: Path) -> None:
    assert (summary.stored, summary.duplicates, summary.skipped) == (5, 1, 0)
    assert summary.not_dicom == [f"{root}/README", f"{root}/more.zip!study/notes.txt"]
    reasons = dict(summary.rejected)
    assert sorted(reasons) == [f"{root}/broken/header-cut.dcm", f"{root}/broken/pixels-cut.dcm"]
    assert "truncated" in reasons[f"{root}/broken/pixels-cut.dcm"]
    assert "0xC000" in reasons[f"{root}/broken/header-cut.dcm"]


def test_ingest_then_rerun_skips(
    fresh_archive: RunningArchive, tmp_path: Path, tree: tuple[Path, list[Dataset], list[Dataset]]
) -> None:
    root, first, second = tree
    state = tmp_path / "state.json"
    kwargs = {
        "url": fresh_archive.dicomweb,
        "token": fresh_archive.token,
        "state_file": state,
        "progress": False,
    }
    summary = ingest_paths([root], **kwargs)  # type: ignore[arg-type]
    _check_first_run(summary, root)
    report = summary.report()
    assert "stored      5" in report and "pixels-cut.dcm: " in report and "README" in report
    recorded = json.loads(state.read_text())["stored"]
    assert len(recorded) == 6 and f"{root}/more.zip!study/series/x.dcm" in recorded

    again = ingest_paths([root], **kwargs)  # type: ignore[arg-type]
    assert (again.stored, again.duplicates, again.skipped) == (0, 0, 6)
    assert len(again.rejected) == 2  # refused files are offered again, and refused again

    with HttpArchiveClient(fresh_archive.dicomweb, token=fresh_archive.token) as client:
        for datasets, instances in ((first, 3), (second, 2)):
            found = client.search_for_studies(match={"PatientID": datasets[0].PatientID})
            assert len(found) == 1
            assert found[0]["00201208"]["Value"] == [instances]


def test_small_batches_map_outcomes_the_same(
    fresh_archive: RunningArchive,
    tmp_path: Path,
    tree: tuple[Path, list[Dataset], list[Dataset]],
) -> None:
    root = tree[0]
    summary = ingest_paths(
        [root],
        url=fresh_archive.dicomweb,
        token=fresh_archive.token,
        state_file=tmp_path / "s.json",
        progress=False,
        batch_bytes=1,
    )
    _check_first_run(summary, root)


class _StopAfter:
    """Wraps a client; Ctrl-C (KeyboardInterrupt) at the n-th store request."""

    def __init__(self, client: HttpArchiveClient, calls: int) -> None:
        self.client, self.calls = client, calls

    def __getattr__(self, name: str) -> object:
        return getattr(self.client, name)

    def store_instances(
        self, instances: Sequence[bytes | Dataset], study_uid: str | None = None
    ) -> StoreResult:
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt
        return self.client.store_instances(instances, study_uid)


def test_interrupt_leaves_a_valid_state(
    fresh_archive: RunningArchive, tmp_path: Path, tree: tuple[Path, list[Dataset], list[Dataset]]
) -> None:
    root, state = tree[0], tmp_path / "state.json"
    kwargs = {
        "url": fresh_archive.dicomweb,
        "token": fresh_archive.token,
        "state_file": state,
        "progress": False,
        "batch_bytes": 1,
    }
    with HttpArchiveClient(fresh_archive.dicomweb, token=fresh_archive.token) as http:
        with pytest.raises(IngestInterrupted) as caught:
            ingest_paths([root], client=_StopAfter(http, 3), **kwargs)  # type: ignore[arg-type]
    assert caught.value.summary.interrupted and caught.value.summary.stored == 2
    assert "interrupted" in caught.value.summary.report()
    assert len(json.loads(state.read_text())["stored"]) == 2
    rest = ingest_paths([root], **kwargs)  # type: ignore[arg-type]
    assert (rest.skipped, rest.stored, rest.duplicates) == (2, 3, 1)


def test_unreachable_archive_and_wrong_token(
    fresh_archive: RunningArchive, tmp_path: Path, tree: tuple[Path, list[Dataset], list[Dataset]]
) -> None:
    root, state = tree[0], tmp_path / "state.json"
    with pytest.raises(
        IngestError, match="cannot reach the archive at http://127.0.0.1:9/dicom-web"
    ):
        ingest_paths(
            [root], url="http://127.0.0.1:9/dicom-web", token="x", state_file=state, progress=False
        )
    with pytest.raises(IngestError, match="token is not valid"):
        ingest_paths(
            [root], url=fresh_archive.dicomweb, token="wrong", state_file=state, progress=False
        )
    with pytest.raises(IngestError, match="no such file or folder"):
        ingest_paths([root / "nope"], url=fresh_archive.dicomweb, token=None, progress=False)


def test_default_state_file_is_per_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = default_state_file("http://a/dicom-web/")
    assert path.parent == tmp_path / ".cache" / "workbench"
    assert path.name.startswith("ingest-") and path.suffix == ".json"
    assert path == default_state_file("http://a/dicom-web")
    assert path != default_state_file("http://b/dicom-web")


def test_console_script(
    fresh_archive: RunningArchive, tmp_path: Path, tree: tuple[Path, list[Dataset], list[Dataset]]
) -> None:
    root = tree[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    command = [
        str(ROOT / ".venv" / "bin" / "workbench"),
        "ingest",
        str(root),
        "--url",
        fresh_archive.dicomweb,
        "--quiet",
    ]

    done = subprocess.run(
        [*command, "--token", fresh_archive.token],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # two files were rejected
    assert "stored      5" in done.stdout and "duplicates  1" in done.stdout
    assert "pixels-cut.dcm: " in done.stdout and "truncated" in done.stdout
    assert list((tmp_path / "cache" / "workbench").glob("ingest-*.json"))

    again = subprocess.run(
        [*command, "--token", fresh_archive.token],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "skipped     6" in again.stdout and "stored      0" in again.stdout

    refused = subprocess.run(
        [*command, "--token", "wrong"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "token is not valid" in refused.stderr and "Traceback" not in refused.stderr
