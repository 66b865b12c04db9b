"""Helpers for the billing and retention tests: toolset content, waiting, time travel.

``derived`` makes the small non-image objects that put a study in the Advanced Toolset
(key object selection, encapsulated PDF, structured report, presentation state, audio) or
that must not (a radiation dose report). Time travel edits the test archive's SQLite
index directly: the only way to make a study six months old in a test.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from tests.conftest import RunningArchive
from workbench.demo._base import make_uid

T = TypeVar("T")
SOP = "1.2.840.10008.5.1.4.1.1."
KINDS = {  # kind -> (SOP Class UID, Modality)
    "KO": (SOP + "88.59", "KO"),           # key images
    "PDF": (SOP + "104.1", "DOC"),         # an uploaded document
    "SR": (SOP + "88.33", "SR"),           # a report
    "GSPS": (SOP + "11.1", "PR"),          # an annotation
    "AUDIO": (SOP + "9.4.2", "AU"),        # dictation
    "DOSE": (SOP + "88.67", "SR"),         # a dose report the modality made: not the toolset
}
_STUDY = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
          "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber", "StudyID",
          "StudyDescription", "ReferringPhysicianName")


def derived(template: Dataset, kind: str, seed: int) -> Dataset:
    """A minimal object of ``kind`` in the study of ``template`` (a new series)."""
    sop_class, modality = KINDS[kind]
    ds = Dataset()
    for keyword in _STUDY:
        if keyword in template:
            setattr(ds, keyword, template.data_element(keyword).value)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = make_uid("billing-derived", kind, seed)
    ds.SeriesInstanceUID = make_uid("billing-derived-series", kind, seed)
    ds.Modality = modality
    ds.SeriesNumber = 90
    ds.InstanceNumber = 1
    if kind == "PDF":
        ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
        ds.EncapsulatedDocument = b"%PDF-1.4\n% test referral\n%%EOF\n"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def wait_for(probe: Callable[[], T | None], timeout: float = 15.0, what: str = "it") -> T:
    """Poll ``probe`` until it returns something truthy (event handlers run after commit)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ledger(site: RunningArchive, headers: dict[str, str]) -> list[dict[str, object]]:
    """The caller's ledger entries."""
    r = httpx.get(f"{site.url}/api/billing/ledger", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return list(r.json()["entries"])


def entries_for(site: RunningArchive, headers: dict[str, str], study: str, count: int = 1
                ) -> list[dict[str, object]]:
    """Wait until the study has ``count`` ledger entries; return them."""
    return wait_for(lambda: (found := [e for e in ledger(site, headers)
                                       if e["study_uid"] == study]) and len(found) >= count
                    and found, what=f"{count} ledger entries of {study}")


def index(site: RunningArchive) -> sqlite3.Connection:
    """A connection to the archive's index (autocommit)."""
    conn = sqlite3.connect(site.data_dir / "index.sqlite", timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def stamp(moment: datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite."""
    return f"{moment:%Y-%m-%d %H:%M:%S.%f}"


def backdate_study(site: RunningArchive, study: str, days: int) -> datetime:
    """Make the study received ``days`` ago; the new receipt time (naive UTC)."""
    received = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    with closing(index(site)) as conn:
        conn.execute("UPDATE studies SET created_at = ? WHERE study_uid = ?",
                     (stamp(received), study))
        conn.execute("UPDATE study_retention SET received_at = ? WHERE study_uid = ?",
                     (stamp(received), study))
    return received
