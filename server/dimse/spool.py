"""The forwarder's durable spool: received instances wait here until their study is sent.

Layout under the spool folder::

    tmp/<uuid>.part                    an instance being written (removed at start)
    incoming/<study uid>/<sop uid>.dcm waiting to be sent (or being sent)
    failed/<study uid>/<sop uid>.dcm   refused by the remote archive for good,
    failed/<study uid>/<sop uid>.txt   with the reason
    sent.jsonl                         one line per study batch sent: study, count, time

An instance is acknowledged (C-STORE success) only after its file is written, synced and
renamed into ``incoming/<study>`` and that folder is synced. A file leaves ``incoming``
only after the remote archive confirmed it, so a crash at any point sends it again, as
the same bytes, which the archive takes as a no-op (identical duplicate): nothing is lost
and nothing is stored twice. A study is *ready* once no instance of it arrived for the
idle time; arrival times live in memory, seeded from file times at start.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from workbench.dicom.read import parse_instance, valid_uid


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Spooled:
    """A spooled instance as read for sending; ``stamp`` tells whether it changed since."""

    study_uid: str
    sop_uid: str
    path: Path
    stamp: tuple[int, int, int]


class Spool:
    """The spool folder.

    Parameters
    ----------
    root
        The spool folder (created if missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self.failed = root / "failed"
        self.tmp = root / "tmp"
        for folder in (self.incoming, self.failed, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        _fsync_folder(root)
        for leftover in self.tmp.glob("*.part"):  # cut off by a crash, never acknowledged
            leftover.unlink(missing_ok=True)
        self._lock = threading.Lock()
        self._arrived: dict[str, float] = {}
        for study in self.incoming.iterdir():
            times = [p.stat().st_mtime for p in study.glob("*.dcm")]
            if times:
                self._arrived[study.name] = max(times)

    def put(self, data: bytes) -> str:
        """Keep one instance durably; return its study UID.

        Raises
        ------
        workbench.errors.InvalidDicomError
            Not a readable DICOM instance with valid UIDs.
        OSError
            It could not be written.
        """
        parsed = parse_instance(data)
        study, sop = parsed.study_uid, parsed.sop_uid
        if not (valid_uid(study) and valid_uid(sop)):  # names of folders and files
            raise ValueError("invalid UIDs")
        part = self.tmp / f"{uuid.uuid4().hex}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fdatasync(fd)
        except BaseException:
            os.close(fd)
            part.unlink(missing_ok=True)
            raise
        os.close(fd)
        folder = self.incoming / study
        with self._lock:
            if not folder.exists():
                folder.mkdir()
                _fsync_folder(self.incoming)
            os.replace(part, folder / f"{sop}.dcm")
            self._arrived[study] = time.time()
        _fsync_folder(folder)
        _fsync_folder(self.tmp)
        return study

    def ready(self, idle_s: float, now: float | None = None) -> list[str]:
        """Studies that received nothing for ``idle_s`` seconds, oldest first."""
        moment = time.time() if now is None else now
        with self._lock:
            waiting = sorted(self._arrived.items(), key=lambda item: item[1])
        return [study for study, at in waiting if moment - at >= idle_s]

    def waiting(self) -> dict[str, tuple[int, int, float]]:
        """Per study in ``incoming``: instances, bytes, seconds since the last arrival."""
        now = time.time()
        with self._lock:
            arrived = dict(self._arrived)
        found = {}
        for study, at in arrived.items():
            files = list((self.incoming / study).glob("*.dcm"))
            found[study] = (len(files), sum(_size(p) for p in files), now - at)
        return found

    def instances(self, study: str) -> list[Spooled]:
        """The spooled instances of ``study``, in file name order."""
        out = []
        for path in sorted((self.incoming / study).glob("*.dcm")):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            out.append(Spooled(study, path.stem, path, (st.st_ino, st.st_mtime_ns, st.st_size)))
        return out

    def done(self, item: Spooled) -> None:
        """The remote archive has ``item``: remove it, unless a new version replaced it."""
        with self._lock:
            try:
                st = item.path.stat()
            except FileNotFoundError:
                return
            if (st.st_ino, st.st_mtime_ns, st.st_size) == item.stamp:
                item.path.unlink()
            self._forget_if_empty(item.study_uid)

    def fail(self, item: Spooled, reason: str) -> None:
        """The remote archive refused ``item`` for good: move it to ``failed`` with why."""
        target = self.failed / item.study_uid
        with self._lock:
            target.mkdir(exist_ok=True)
            (target / f"{item.sop_uid}.txt").write_text(reason + "\n")
            os.replace(item.path, target / f"{item.sop_uid}.dcm")
            _fsync_folder(target)
            self._forget_if_empty(item.study_uid)

    def _forget_if_empty(self, study: str) -> None:
        folder = self.incoming / study
        if not any(folder.glob("*.dcm")):
            self._arrived.pop(study, None)
            try:
                folder.rmdir()
            except OSError:
                pass

    def record_sent(self, study: str, count: int) -> None:
        """Append a line to ``sent.jsonl``."""
        line = json.dumps({"study": study, "instances": count,
                           "at": datetime.now(UTC).isoformat(timespec="seconds")})
        with self._lock, open(self.root / "sent.jsonl", "a") as fh:
            fh.write(line + "\n")

    def sent_totals(self) -> tuple[int, int]:
        """Study batches and instances ever sent (from ``sent.jsonl``)."""
        studies = count = 0
        try:
            with open(self.root / "sent.jsonl") as fh:
                for line in fh:
                    try:
                        count += int(json.loads(line)["instances"])
                        studies += 1
                    except (ValueError, KeyError):
                        continue
        except FileNotFoundError:
            pass
        return studies, count

    def failures(self) -> list[dict[str, str]]:
        """Every instance in ``failed``: study, SOP instance and reason."""
        out = []
        for reason in sorted(self.failed.glob("*/*.txt")):
            out.append({"study": reason.parent.name, "instance": reason.stem,
                        "reason": reason.read_text().strip()})
        return out

    def retry_failed(self) -> int:
        """Move every failed instance back to ``incoming``; return how many."""
        moved = 0
        for path in list(self.failed.glob("*/*.dcm")):
            folder = self.incoming / path.parent.name
            with self._lock:
                folder.mkdir(exist_ok=True)
                os.replace(path, folder / path.name)
                path.with_suffix(".txt").unlink(missing_ok=True)
                self._arrived[path.parent.name] = 0.0
            moved += 1
        return moved


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
