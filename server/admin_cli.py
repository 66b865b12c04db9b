"""Administration commands run on the archive's machine (``workbench audit verify``)."""

from __future__ import annotations

from pathlib import Path

from server.config import Settings
from server.db.engine import make_engine
from server.services.audit import verify_chain


def audit_verify(data_dir: Path | None) -> int:
    """Recompute the audit trail's hash chain; print the verdict; 0 intact, 3 tampered."""
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        report = verify_chain(engine)
    finally:
        engine.dispose()
    if report.intact:
        print(f"audit trail intact: {report.rows} events, every hash chains")
        return 0
    print(f"audit trail TAMPERED at event {report.first_bad_pk}: {report.problem}")
    return 3
