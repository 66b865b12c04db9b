"""``workbench report verify`` and ``workbench report rotate-master-key`` (run on the
archive's machine, against its data directory)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from server.config import Settings
from server.db.engine import make_engine
from server.db.reports import reports
from server.services import reports as core
from server.services.reports_keys import rotate_master_key


def _settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir is not None else Settings()


def verify(data_dir: Path | None, report_uid: str | None) -> int:
    """Verify one report (or all); print one line each; 0 all valid, 3 any invalid, 2 none."""
    engine = make_engine(_settings(data_dir).resolved_database_url)
    bad = 0
    try:
        with engine.connect() as conn:
            stmt = select(reports.c.pk, reports.c.uid).order_by(reports.c.pk)
            if report_uid is not None:
                stmt = stmt.where(reports.c.uid == report_uid)
            rows = conn.execute(stmt).fetchall()
            for row in rows:
                loaded = core.load_pk(conn, row.pk)
                if not loaded.report.signed:
                    print(f"{row.uid}: not signed ({loaded.report.status.value})")
                    continue
                result = core.verify(conn, loaded)
                bad += not result.valid
                print(f"{row.uid}: {result.describe()}")
    finally:
        engine.dispose()
    if not rows:
        print(f"no report {report_uid}" if report_uid else "no reports")
        return 2
    return 3 if bad else 0


def rotate_master(data_dir: Path | None) -> int:
    """Re-seal every signing key under a new master key; print how many."""
    settings = _settings(data_dir)
    path = settings.report_keyring or settings.data_dir / "keys" / "signing-keyring.json"
    engine = make_engine(settings.resolved_database_url)
    try:
        count = rotate_master_key(engine, path)
    finally:
        engine.dispose()
    print(f"master key rotated: {count} signing keys re-sealed; old signatures unchanged")
    return 0
