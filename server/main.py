"""The archive application: ``create_app(settings)`` wires routers, services and events."""

from __future__ import annotations

import gc
import logging
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.metadata import entry_points

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

import workbench
from server import errors
from server.auditing import AuditMiddleware
from server.auth.hub import HubIdentities, HubServiceMiddleware
from server.auth.limits import LoginLimiter
from server.auth.tokens import CredentialCache, ensure_admin
from server.config import Settings
from server.db.engine import make_engine, refresh_statistics, upgrade
from server.deps import Services
from server.routes import (
    accounts,
    audit,
    auth,
    billing,
    delete,
    hub,
    jobs,
    media,
    members,
    notebook_runs,
    pages,
    patients,
    preferences,
    qido,
    rendered,
    reports,
    retention,
    sharing,
    sources,
    stow,
    wado,
)
from server.routes import annotations as annotation_routes
from server.services.audit import AuditLog
from server.services.background import server_worker
from server.services.events import (
    ANNOTATION_CREATED,
    DICTATION_STORED,
    INSTANCE_STORED,
    MEDIA_STORED,
    REPORT_CREATED,
    EventBus,
)
from server.services.ingest import Ingestor
from server.services.jobs import JobQueue
from server.services.ledger import LedgerHandlers, load_prices
from server.services.mail import Mailer
from server.services.payments import TestPaymentProvider
from server.services.reports_runtime import ReportServices
from server.services.sweep import recover_blobs
from server.storage.factory import open_store
from workbench.toolset import ToolsetFeature

log = logging.getLogger("workbench.server")

LANDING = """<!doctype html><html><head><meta charset="utf-8"><title>workbench</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>workbench archive</h1><p>Version {version}. DICOMweb root: <code>/dicom-web</code>;
JSON API: <code>/api</code>; interactive API documentation: <a href="/docs">/docs</a>.</p>
<p><a href="/login">Log in</a> or <a href="/signup">sign a practice up</a>. Scripts send
<code>Authorization: Bearer &lt;token&gt;</code>; the installation administrator's token is in
<code>&lt;data dir&gt;/admin-token</code>.</p></body></html>"""


def quiet_pydicom() -> None:
    """Keep pydicom's warnings about odd values (which quote the values) out of the logs."""
    warnings.filterwarnings("ignore", module=r"pydicom\..*")
    logging.getLogger("pydicom").setLevel(logging.ERROR)


def build_services(settings: Settings) -> Services:
    """Open (and migrate) the index, the blob store and the ingest pipeline."""
    quiet_pydicom()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    if not settings.prepared:
        upgrade(engine)
        refresh_statistics(engine)
    store = open_store(settings, "blobs")
    events = EventBus()
    events.make_durable(JobQueue(engine, backoff=timedelta(seconds=1)))
    charges = LedgerHandlers(engine, load_prices(settings))
    events.subscribe_batch(INSTANCE_STORED, charges.on_instances_stored)
    events.subscribe(MEDIA_STORED, charges.on_media_stored)
    events.subscribe(REPORT_CREATED, charges.toolset_handler(ToolsetFeature.REPORT))
    events.subscribe(DICTATION_STORED, charges.toolset_handler(ToolsetFeature.DICTATION))
    events.subscribe(ANNOTATION_CREATED, charges.toolset_handler(ToolsetFeature.ANNOTATION))
    ingestor = Ingestor(engine, store, events, duplicates=settings.duplicates,
                        max_header_bytes=settings.max_header_bytes,
                        threads=settings.ingest_threads)
    if not settings.prepared:
        recovered = recover_blobs(ingestor, engine, store, settings.data_dir)
        if recovered.indexed or recovered.removed:
            log.info("start-up sweep: %d blobs indexed again, %d incomplete ones removed",
                     recovered.indexed, recovered.removed)
        token_file = ensure_admin(engine, settings.data_dir, settings.admin_token)
        if token_file is not None:
            log.warning("administrator token written to %s", token_file)
    mailer = Mailer(settings.mail_from, host=settings.smtp_host, port=settings.smtp_port,
                    outbox=settings.data_dir / "outbox", starttls=settings.smtp_starttls,
                    username=settings.smtp_username, password=settings.smtp_password)
    hub = None
    if settings.hub_api_url and settings.hub_api_token:
        hub = HubIdentities(settings.hub_api_url, settings.hub_api_token, engine,
                            service=settings.hub_service_name)
    return Services(settings=settings, engine=engine, store=store,
                    media_store=open_store(settings, "media"), events=events,
                    ingestor=ingestor, credentials=CredentialCache(engine),
                    audit=AuditLog(engine), mailer=mailer, payments=TestPaymentProvider(),
                    limiter=LoginLimiter(settings.login_attempts_per_minute), hub=hub)


APP_GROUP = "workbench.apps"
"""Entry-point group of web apps served with the archive: each entry is a callable taking
the FastAPI application (the reading app registers ``workbench.viewer.app:mount``)."""


def installed_apps() -> list[tuple[str, Callable[[FastAPI], object]]]:
    """The ``workbench.apps`` entry points, loaded; one that fails to load is logged and
    left out (the archive serves without it)."""
    apps = []
    for point in entry_points(group=APP_GROUP):
        try:
            apps.append((point.name, point.load()))
        except Exception:  # an app's missing optional dependency must not stop the archive
            log.exception("web app %r (%s) could not be loaded", point.name, point.value)
    return apps


def mount_apps(app: FastAPI) -> None:
    """Let every installed web app add its routes to `app`."""
    for name, mount in installed_apps():
        mount(app)
        log.info("web app %r mounted", name)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Create the archive application.

    Parameters
    ----------
    settings
        Configuration; defaults to ``Settings()`` read from ``WORKBENCH_*`` variables.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        app.state.services = services
        app.state.reports = ReportServices.start(services)
        worker = server_worker(services, JobQueue(services.engine, backoff=timedelta(seconds=1)))
        if settings.job_worker:
            worker.start()
        # Everything loaded so far (pydicom's data dictionary, SQLAlchemy, FastAPI) lives as
        # long as the process: keep it out of the cyclic garbage collector's scans, which
        # otherwise dominate the cost of building large QIDO answers.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            worker.close()
            app.state.reports.close()
            services.ingestor.close()
            services.events.close()
            services.audit.close()
            services.credentials.close()
            services.engine.dispose()

    app = FastAPI(title="workbench archive", version=workbench.__version__, lifespan=lifespan,
                  description="DICOMweb study archive with patient folders, accounts, sharing and "
                              "an audit trail.")
    errors.install(app)
    for router in (stow.router, qido.router, wado.router, rendered.router, delete.router):
        app.include_router(router, prefix="/dicom-web")
    for router in (patients.router, auth.router, accounts.router, members.router,
                   sources.router, sharing.router, audit.router, media.router,
                   billing.router, retention.router, preferences.router,
                   notebook_runs.router, reports.router, annotation_routes.router,
                   jobs.router):
        app.include_router(router, prefix="/api")
    app.include_router(pages.router)
    app.include_router(hub.router)
    app.add_middleware(AuditMiddleware)
    mount_apps(app)

    if not any(getattr(route, "path", None) == "/" for route in app.router.routes):
        @app.get("/", include_in_schema=False)
        def landing() -> HTMLResponse:
            return HTMLResponse(LANDING.format(version=workbench.__version__))

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    if settings.hub_service_prefix:  # outermost: the routes see paths without the prefix
        app.add_middleware(HubServiceMiddleware, prefix=settings.hub_service_prefix,
                           oauth=bool(settings.hub_client_id and settings.hub_api_token))
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory server.main:app_from_environment``."""
    return create_app(Settings())
