"""``workbench ingest``: send DICOM files, folders and zip files to an archive.

Sources are found by :func:`iter_sources` (files, folders recursively, members of
``.zip`` files), files without ``DICM`` at offset 128 are set aside, and the rest go
to the archive in STOW-RS requests of several files each (up to ``batch_bytes``).
Each instance's outcome is mapped back to its file. A JSON state file, rewritten
atomically after every request, records what is stored so that a rerun (after an
interruption, say) skips it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import zipfile
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pydicom
from tqdm import tqdm

from workbench.dicomweb.client import (
    ArchiveClient,
    ArchiveUnavailableError,
    HttpArchiveClient,
    StoreResult,
)
from workbench.errors import PayloadTooLargeError, PermissionDeniedError, WorkbenchError
from workbench.ingest_media import MediaTarget, send_media
from workbench.ingest_sources import Source, iter_sources

__all__ = [
    "IngestError",
    "IngestInterrupted",
    "IngestSummary",
    "Source",
    "default_state_file",
    "ingest_paths",
    "iter_sources",
]

DEFAULT_BATCH_BYTES = 32 * 1024 * 1024
_STATE_VERSION = 1
_NO_OUTCOME = "the archive reported no outcome for this file"
_PROGRESS: dict[str, Any] = {
    "unit": "B",
    "unit_scale": True,
    "unit_divisor": 1024,
    "desc": "ingest",
    "leave": False,
}


class IngestError(WorkbenchError):
    """Ingest cannot go on: the archive is unreachable, refuses the token, or a path is missing."""


@dataclass
class IngestSummary:
    """What an ingest run did.

    Attributes
    ----------
    stored
        Instances the archive stored in this run.
    duplicates
        Files whose SOP Instance UID was already stored from another file, in this run
        or in one recorded by the state file (or that the archive reported as already
        stored).
    skipped
        Files left out because the state file records them as stored.
    rejected
        ``(source id, reason)`` of each file the archive refused or that could not be
        read. They are not recorded as stored: a rerun offers them again.
    not_dicom
        Source ids of files that are not DICOM Part 10 (no ``DICM`` at offset 128) and
        were not sent (no media target given).
    attached
        Non-DICOM files stored as media of the target study or folder.
    interrupted
        The run was stopped (Ctrl-C) before every file was sent.
    """

    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    not_dicom: list[str] = field(default_factory=list)
    attached: int = 0
    interrupted: bool = False

    def report(self) -> str:
        """A readable multi-line summary: counts, then every rejection with its reason."""
        lines = [
            "ingest interrupted; run the same command again to resume"
            if self.interrupted
            else "ingest finished",
            f"  stored      {self.stored}",
            f"  duplicates  {self.duplicates}",
            f"  skipped     {self.skipped} (stored by an earlier run)",
            f"  attached    {self.attached} (non-DICOM files, as media)",
            f"  not DICOM   {len(self.not_dicom)}",
            f"  rejected    {len(self.rejected)}",
        ]
        if self.rejected:
            lines.append("rejected files:")
            lines += [f"  {source}: {reason}" for source, reason in self.rejected]
        if self.not_dicom:
            lines.append("not DICOM (no 'DICM' marker at offset 128), not sent:")
            lines += [f"  {source}" for source in self.not_dicom]
        return "\n".join(lines)


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`ingest_paths`; the state file is saved and ``summary`` is kept."""

    def __init__(self, summary: IngestSummary) -> None:
        super().__init__("ingest interrupted")
        self.summary = summary


def default_state_file(url: str) -> Path:
    """``~/.cache/workbench/ingest-<sha1 of url>.json`` (``$XDG_CACHE_HOME`` if set)."""
    digest = hashlib.sha1(url.rstrip("/").encode()).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "workbench" / f"ingest-{digest}.json"


class _State:
    """Source ids stored so far, with the size and mtime they had and their SOP UID."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url
        self.done: dict[str, tuple[int, float, str]] = {}
        try:
            data = json.loads(path.read_text())
            if data.get("version") == _STATE_VERSION:
                self.done = {
                    k: (int(v[0]), float(v[1]), str(v[2])) for k, v in data["stored"].items()
                }
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            self.done = {}  # missing or unreadable: start afresh

    def is_done(self, source: Source) -> bool:
        return self.done.get(source.id, (None, None, ""))[:2] == (source.size, source.mtime)

    def uids(self) -> set[str]:
        return {uid for _size, _mtime, uid in self.done.values() if uid}

    def add(self, source: Source, uid: str) -> None:
        self.done[source.id] = (source.size, source.mtime, uid)

    def save(self) -> None:
        """Write atomically: a complete temporary file replaces the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "version": _STATE_VERSION,
            "url": self.url,
            "stored": {k: list(v) for k, v in self.done.items()},
        }
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as fh:
            json.dump(body, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


@dataclass
class _Item:
    source: Source
    data: bytes
    uid: str | None


def _sop_uid(data: bytes) -> str | None:
    """The SOP Instance UID, read from the header only; ``None`` if unreadable."""
    try:
        ds = pydicom.dcmread(
            io.BytesIO(data), stop_before_pixels=True, specific_tags=["SOPInstanceUID"]
        )
        value = ds.get("SOPInstanceUID")
    except Exception:  # pydicom raises many types for a damaged header
        return None
    uid = "" if value is None else str(value).strip().rstrip("\x00")
    return uid or None


class _Run:
    """One ingest run: sends batches and books their outcomes."""

    def __init__(self, client: ArchiveClient, state: _State, bar: tqdm[Any], *,
                 media: MediaTarget | None = None, url: str = "", token: str | None = None
                 ) -> None:
        self.media = media
        self.url = url
        self.token = token
        self.client = client
        self.state = state
        self.bar = bar
        self.summary = IngestSummary()
        self.sent_uids = state.uids()

    def send(self, batch: list[_Item]) -> None:
        try:
            result = self.client.store_instances([item.data for item in batch])
        except PayloadTooLargeError as exc:
            if len(batch) > 1:
                half = len(batch) // 2
                self.send(batch[:half])
                self.send(batch[half:])
                return
            self._book_rejections(batch, str(exc))
        except (PermissionDeniedError, ArchiveUnavailableError):
            raise
        except WorkbenchError as exc:
            self._book_rejections(batch, str(exc))
        else:
            self._book(batch, result)
        self.state.save()
        self.bar.update(sum(item.source.size for item in batch))
        self.bar.set_postfix(stored=self.summary.stored, rejected=len(self.summary.rejected))

    def attach(self, source: Source) -> None:
        """Upload a non-DICOM file as media of the target."""
        assert self.media is not None
        try:
            ok, detail = send_media(source, self.url, self.token, self.media)
        except httpx.HTTPError as exc:
            ok, detail = False, f"cannot reach the archive: {_one_line(exc)}"
        if ok:
            self.summary.attached += 1
            self.state.add(source, "")
            self.state.save()
        else:
            self.summary.rejected.append((source.id, detail))

    def _book_rejections(self, batch: list[_Item], reason: str) -> None:
        self.summary.rejected += [(item.source.id, reason) for item in batch]

    def _book(self, batch: list[_Item], result: StoreResult) -> None:
        stored: defaultdict[str, int] = defaultdict(int)
        for stored_uid in result.stored:
            stored[stored_uid] += 1
        duplicates = {uid for uid, _code, text in result.warnings if "already" in text.lower()}
        failed_by_uid: defaultdict[str, deque[str]] = defaultdict(deque)
        failed_anonymous: deque[str] = deque()
        for failed_uid, code, text in result.failed:
            reason = f"{text or 'refused'} (status 0x{code:04X})"
            if failed_uid is None:
                failed_anonymous.append(reason)
            else:
                failed_by_uid[failed_uid].append(reason)
        unresolved: list[_Item] = []
        for item in batch:
            uid = item.uid
            if uid is not None and stored[uid] > 0:
                stored[uid] -= 1
                if uid in self.sent_uids or uid in duplicates:
                    self.summary.duplicates += 1
                else:
                    self.summary.stored += 1
                self.sent_uids.add(uid)
                self.state.add(item.source, uid)
            elif uid is not None and failed_by_uid[uid]:
                self.summary.rejected.append((item.source.id, failed_by_uid[uid].popleft()))
            else:
                unresolved.append(item)
        leftovers = deque(r for reasons in failed_by_uid.values() for r in reasons)
        unclaimed = deque(uid for uid, count in stored.items() for _ in range(count))
        for item in unresolved:  # failures without a UID are reported in request order
            pool = failed_anonymous or leftovers
            if pool or not unclaimed:
                reason = pool.popleft() if pool else _NO_OUTCOME
                self.summary.rejected.append((item.source.id, reason))
            else:  # the archive read a UID where this file's header could not be read here
                uid = unclaimed.popleft()
                self.summary.stored += 1
                self.sent_uids.add(uid)
                self.state.add(item.source, uid)


def ingest_paths(
    paths: Sequence[Path],
    *,
    url: str,
    token: str | None,
    state_file: Path | None = None,
    progress: bool = True,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    client: ArchiveClient | None = None,
    media: MediaTarget | None = None,
) -> IngestSummary:
    """Send every DICOM file under ``paths`` to the archive at ``url``.

    Parameters
    ----------
    paths
        Files, folders and zip files (see :func:`iter_sources`).
    url
        DICOMweb root of the archive; also names the default state file.
    token
        Bearer token, or ``None``.
    state_file
        Where to record what is stored (default :func:`default_state_file`).
    progress
        Show a progress bar (over bytes) on standard error.
    batch_bytes
        Largest sum of file sizes per STOW-RS request (a bigger file goes alone).
    client
        Archive to use instead of ``HttpArchiveClient(url, token=token)``.
    media
        Where non-DICOM files go (a study or a patient folder); None sets them aside.

    Returns
    -------
    IngestSummary

    Raises
    ------
    IngestError
        A path does not exist, the archive cannot be reached or refuses the token.
    IngestInterrupted
        Ctrl-C; the state file records everything stored before it.
    """
    try:
        sources = list(iter_sources(paths))
    except (FileNotFoundError, zipfile.BadZipFile) as exc:
        raise IngestError(str(exc)) from None
    state = _State(state_file or default_state_file(url), url)
    archive = client if client is not None else HttpArchiveClient(url, token=token)
    try:
        if not all(state.is_done(source) for source in sources):
            archive.search_for_studies(limit=1)  # a wrong URL or token fails here, cleanly
        total = sum(source.size for source in sources)
        bar = tqdm(total=total, disable=not progress, file=sys.stderr, **_PROGRESS)
        with bar:
            run = _Run(archive, state, bar, media=media, url=url, token=token)
            try:
                _ingest(run, sources, batch_bytes)
            except KeyboardInterrupt:
                run.summary.interrupted = True
                state.save()
                raise IngestInterrupted(run.summary) from None
    except ArchiveUnavailableError as exc:
        raise IngestError(_one_line(exc)) from None
    except PermissionDeniedError as exc:
        raise IngestError(f"the archive at {url} refuses access: {_one_line(exc)}") from None
    finally:
        if client is None and isinstance(archive, HttpArchiveClient):
            archive.close()
    return run.summary


def _ingest(run: _Run, sources: Sequence[Source], batch_bytes: int) -> None:
    """Sort out non-DICOM and unreadable files; send the rest in batches."""
    batch: list[_Item] = []
    attach_later: list[Source] = []
    batch_size = 0
    uids: set[str | None] = set()
    for source in sources:
        if run.state.is_done(source):
            run.summary.skipped += 1
            run.bar.update(source.size)
            continue
        try:
            is_dicom = source.head(132)[128:132] == b"DICM"
            data = source.read() if is_dicom else b""
        except (OSError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
            run.summary.rejected.append((source.id, f"cannot read the file: {exc}"))
            run.bar.update(source.size)
            continue
        if not is_dicom:
            if run.media is not None:
                attach_later.append(source)  # after the DICOM files: the study exists then
            else:
                run.summary.not_dicom.append(source.id)
                run.bar.update(source.size)
            continue
        item = _Item(source, data, _sop_uid(data))
        full = batch_size + source.size > batch_bytes
        # A SOP Instance UID goes once per request: a second copy waits for the next one.
        if batch and (full or item.uid in uids):
            run.send(batch)
            batch, batch_size, uids = [], 0, set()
        batch.append(item)
        batch_size += source.size
        if item.uid is not None:
            uids.add(item.uid)
    if batch:
        run.send(batch)
    for source in attach_later:
        run.attach(source)
        run.bar.update(source.size)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
