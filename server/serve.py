"""``workbench serve``: run the archive with uvicorn, optionally loading the demo data."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import uvicorn
from pydicom.dataset import Dataset
from sqlalchemy import func, select

from server.config import Settings
from server.db.models import instances
from server.main import build_services, create_app

log = logging.getLogger("workbench.server")


def _to_bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def load_demo(settings: Settings) -> int:
    """Store the seeded demo data set when the archive is empty; return instances stored."""
    from workbench.demo import demo_datasets

    services = build_services(settings)
    try:
        with services.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(instances)).scalar() or 0
        if count:
            return 0
        pending = [services.ingestor.start(_to_bytes(ds)) for ds in demo_datasets(seed=0)]
        outcomes = services.ingestor.finish(pending)
        failed = [o.reason for o in outcomes if not o.ok]
        if failed:
            raise RuntimeError(f"demo instances rejected: {failed}")
        return len(outcomes)
    finally:
        services.ingestor.close()
        services.engine.dispose()


def run(host: str | None, port: int | None, data_dir: Path | None, demo: bool,
        workers: int = 1) -> None:
    """Start the archive (blocking) on ``host:port`` with data in ``data_dir``."""
    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if data_dir:
        overrides["data_dir"] = data_dir
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if demo:
        stored = load_demo(settings)
        if stored:
            log.info("demo data loaded: %d instances", stored)
    token_file = settings.data_dir / "admin-token"
    log.info("workbench on http://%s:%d  (data in %s%s)", settings.host, settings.port,
             settings.data_dir.resolve(),
             f"; administrator token in {token_file}" if token_file.exists() else "")
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                access_log=False, http="httptools", loop="uvloop")
