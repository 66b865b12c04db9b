"""Process entry points: the archive's listener and the forwarder ("the drive").

- :func:`serve_archive` runs the archive's listener until SIGTERM/SIGINT. ``workbench
  serve --dimse PORT`` runs it in one dedicated process next to the HTTP workers
  (:func:`start_listener_process`); ``workbench drive`` runs it alone.
- :func:`serve_forwarder` runs the listener into the spool plus the forwarder, with an
  optional JSON status endpoint and a status line on the terminal
  (``workbench drive --forward URL``).
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from server.config import Settings
from server.dimse.callers import AllowList, SourceDirectory
from server.dimse.contexts import make_ae
from server.dimse.forwarder import Forwarder, summary
from server.dimse.listener import Listener
from server.dimse.qr import QueryRetrieve
from server.dimse.spool import Spool
from server.dimse.store import ArchiveSink, SpoolSink

log = logging.getLogger("workbench.dimse")
DEFAULT_PORT = 11112


def _ae(settings: Settings, query_retrieve: bool) -> Any:
    return make_ae(settings.dimse_ae_title, max_pdu=settings.dimse_max_pdu,
                   timeout=settings.dimse_timeout,
                   max_associations=settings.dimse_max_associations,
                   query_retrieve=query_retrieve)


def _host(settings: Settings) -> str:
    return settings.dimse_host or settings.host


def _orphaned(parent: int) -> bool:
    """Whether the process ``parent`` that started this one has ended."""
    return os.getppid() != parent


def _until_signalled(tick: Callable[[], bool | None] | None = None,
                     every: float = 5.0) -> None:
    """Block until SIGTERM or SIGINT (or ``tick`` returns True), calling ``tick`` every
    ``every`` seconds."""
    stop = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stop.wait(every):
        if tick is not None and tick():
            return


def serve_archive(settings: Settings | None = None, parent: int | None = None,
                  shared: bool = False) -> None:
    """Run the archive's DIMSE listener (blocking) on ``dimse_port``.

    Opens the index like a server process does (migrating and sweeping unless
    ``prepared`` is set by ``workbench serve``). With ``parent`` (a process id) it also
    stops when that process is gone, however it ended (uvicorn re-raises the signal
    that stopped it, which skips its caller's clean-up).
    """
    from server.main import build_services

    settings = settings or Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    services = build_services(settings)
    directory = SourceDirectory(services.engine)
    query = QueryRetrieve(services.engine, services.store, directory,
                          settings.dimse_ae_title, settings.qido_max_limit,
                          services.audit.record)
    listener = Listener(
        _ae(settings, True), directory,
        ArchiveSink(services.ingestor, settings.max_instance_bytes),
        check_called=settings.dimse_check_called_ae, audit=services.audit, query=query)
    try:
        listener.start(_host(settings), settings.dimse_port or DEFAULT_PORT, shared=shared)
        gc.collect()
        gc.freeze()  # long-lived objects out of the collector's scans, as in create_app
        _until_signalled(None if parent is None else lambda: _orphaned(parent), every=1.0)
    finally:
        listener.stop()
        services.ingestor.close()
        services.events.close()
        services.audit.close()
        services.engine.dispose()


def start_listener_process(shared: bool = False) -> multiprocessing.process.BaseProcess:
    """Start :func:`serve_archive` in its own process (settings from the environment)."""
    process = multiprocessing.get_context("spawn").Process(
        target=serve_archive, args=(None, os.getpid(), shared), name="workbench-dimse",
        daemon=False)
    process.start()
    return process


def start_listener_processes(count: int) -> list[multiprocessing.process.BaseProcess]:
    """Start ``count`` listener processes sharing the DIMSE port (``SO_REUSEPORT``).

    pynetdicom decodes PDUs in Python, so one process keeps one core busy at most;
    several processes on one port let the kernel spread associations over the cores
    (each association stays with the process that accepted it).
    """
    shared = count > 1 and hasattr(socket, "SO_REUSEPORT")
    return [start_listener_process(shared) for _ in range(count if shared else 1)]


def stop_process(process: multiprocessing.process.BaseProcess | None) -> None:
    """Terminate a process started here and wait for it."""
    if process is None:
        return
    if process.is_alive():
        process.terminate()
    process.join(timeout=30)
    if process.is_alive():
        process.kill()


class _StatusHandler(BaseHTTPRequestHandler):
    forwarder: Forwarder

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split("?")[0] not in ("/", "/status"):
            self.send_error(404, "only /status is served here")
            return
        body = json.dumps(self.forwarder.status(), indent=1).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return  # requests are not logged


def status_endpoint(forwarder: Forwarder, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``GET /status`` (the forwarder's status as JSON) in a background thread."""
    handler = type("StatusHandler", (_StatusHandler,), {"forwarder": forwarder})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="drive-status", daemon=True).start()
    return server


def make_forwarder(settings: Settings) -> Forwarder:
    """The forwarder of ``settings`` (spool folder, remote URL, token, timing)."""
    if not settings.forward_url:
        raise ValueError("the forwarder needs a remote archive URL (--forward or "
                         "WORKBENCH_FORWARD_URL)")
    return Forwarder(Spool(settings.resolved_spool_dir), settings.forward_url,
                     token=settings.forward_token, idle_s=settings.forward_idle_s,
                     batch_bytes=settings.forward_batch_bytes,
                     retry_max_s=settings.forward_retry_max_s)


def serve_forwarder(settings: Settings | None = None, *, echo: Callable[[str], None] = print
                    ) -> None:
    """Run the forwarder (blocking): listener into the spool, sender to the remote."""
    settings = settings or Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    forwarder = make_forwarder(settings)
    listener = Listener(_ae(settings, False), AllowList(settings.forward_allowed_aes),
                        SpoolSink(forwarder.spool, settings.max_instance_bytes),
                        check_called=settings.dimse_check_called_ae)
    endpoint = None
    last = ""

    def report() -> None:
        nonlocal last
        line = summary(forwarder.status())
        if line != last:
            echo(line)
            last = line

    try:
        port = listener.start(_host(settings), settings.dimse_port or DEFAULT_PORT)
        echo(f"drive {settings.dimse_ae_title} on {_host(settings)}:{port}, spool "
             f"{settings.resolved_spool_dir}, forwarding to {settings.forward_url}")
        if settings.forward_status_port is not None:
            endpoint = status_endpoint(forwarder, settings.host, settings.forward_status_port)
            echo(f"status at http://{settings.host}:{endpoint.server_address[1]}/status")
        forwarder.start()
        report()
        _until_signalled(report, every=2.0)
    finally:
        listener.stop()
        forwarder.stop()
        if endpoint is not None:
            endpoint.shutdown()


def drive(*, forward: str | None, status_only: bool, retry_failed: bool,
          overrides: dict[str, str]) -> int:
    """``workbench drive``: apply command-line overrides, then run what was asked.

    ``overrides`` maps ``WORKBENCH_*`` variable names to values (flags win over the
    environment, and a ``serve``-style child process would see them too).
    """
    os.environ.update(overrides)
    if forward:
        os.environ["WORKBENCH_FORWARD_URL"] = forward
    settings = Settings()
    spool = Spool(settings.resolved_spool_dir) if (status_only or retry_failed) else None
    if spool is not None and retry_failed:
        print(f"{spool.retry_failed()} failed instance(s) moved back to the spool")
    if spool is not None and status_only:
        status = Forwarder(spool, settings.forward_url or "").status()
        print(json.dumps(status, indent=1))
        print(summary(status))
        return 0
    if settings.forward_url:
        serve_forwarder(settings)
    else:
        serve_archive(settings)
    return 0
