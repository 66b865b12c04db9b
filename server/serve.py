"""``workbench serve``: run the archive with uvicorn, optionally loading the demo data."""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import signal
import socket
from pathlib import Path

import uvicorn
from pydicom.dataset import Dataset
from sqlalchemy import func, select

from server.config import Settings
from server.db.models import instances
from server.main import build_services

log = logging.getLogger("workbench.server")


def _to_bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def prepare(settings: Settings, demo: bool) -> int:
    """Migrate the index, sweep leftovers, create the administrator, load the demo data.

    Runs once in the parent process before the workers start. Returns the number of demo
    instances stored (0 when the archive was not empty or ``demo`` is false).
    """
    from workbench.demo import demo_datasets

    services = build_services(settings)
    try:
        if not demo:
            return 0
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
        services.audit.close()
        services.engine.dispose()


def worker_count(settings: Settings) -> int:
    """Processes to start: the setting, or one per CPU core (at most 4)."""
    if settings.workers > 0:
        return settings.workers
    return max(1, min(4, os.cpu_count() or 1))


def dimse_processes(settings: Settings, http_processes: int) -> int:
    """DIMSE listener processes to start: the setting, or as many as HTTP workers."""
    return settings.dimse_processes or http_processes


def run(host: str | None, port: int | None, data_dir: Path | None, demo: bool,
        workers: int | None = None, dimse: int | None = None) -> None:
    """Start the archive (blocking) on ``host:port`` with data in ``data_dir``.

    Flags override ``WORKBENCH_*`` variables; the worker processes read the same variables,
    so the flags are exported to them. With a DIMSE port (``dimse`` or
    ``WORKBENCH_DIMSE_PORT``) more processes run the DIMSE listener
    (``server/dimse/run.py``), as many as HTTP workers unless ``dimse_processes`` says
    otherwise, all on that port.
    """
    if host:
        os.environ["WORKBENCH_HOST"] = host
    if port:
        os.environ["WORKBENCH_PORT"] = str(port)
    if data_dir:
        os.environ["WORKBENCH_DATA_DIR"] = str(data_dir.resolve())
    if workers:
        os.environ["WORKBENCH_WORKERS"] = str(workers)
    if dimse:
        os.environ["WORKBENCH_DIMSE_PORT"] = str(dimse)
    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stored = prepare(settings, demo)
    if stored:
        log.info("demo data loaded: %d instances", stored)
    processes = worker_count(settings)
    token_file = settings.data_dir / "admin-token"
    log.info("workbench on http://%s:%d with %d process(es) (data in %s%s)", settings.host,
             settings.port, processes, settings.data_dir.resolve(),
             f"; administrator token in {token_file}" if token_file.exists() else "")
    os.environ["WORKBENCH_PREPARED"] = "true"
    from server.dimse import run as dimse_run  # the listener process (pynetdicom)

    listeners = (dimse_run.start_listener_processes(dimse_processes(settings, processes))
                 if settings.dimse_port else [])
    try:
        if processes == 1 or not hasattr(socket, "SO_REUSEPORT"):
            uvicorn.run("server.main:app_from_environment", factory=True, host=settings.host,
                        port=settings.port, workers=processes, log_level="warning",
                        access_log=False, http="httptools", loop="uvloop")
            return
        _run_processes(settings.host, settings.port, processes)
    finally:
        for listener in listeners:
            dimse_run.stop_process(listener)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind too (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def _serve_one(host: str, port: int) -> None:
    """One worker process: its own socket on the shared port, one uvicorn server."""
    config = uvicorn.Config("server.main:app_from_environment", factory=True,
                            log_level="warning", access_log=False, http="httptools",
                            loop="uvloop")
    uvicorn.Server(config).run(sockets=[_listen(host, port)])


def _run_processes(host: str, port: int, processes: int) -> None:
    """Run ``processes`` workers, each with its own ``SO_REUSEPORT`` socket.

    The kernel then spreads connections over the workers by a hash of their addresses.
    With one shared socket (uvicorn's ``workers=``), whichever process wakes first takes
    the connection, and a few busy keep-alive clients often end up on one process while
    the other idles (measured: 3 of 4 STOW clients on one of two workers).
    """
    probe = _listen(host, port)  # fails here, clearly, if the port is taken
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_serve_one, args=(host, port), daemon=False)
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    probe.close()

    def stop(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.join()
