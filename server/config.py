"""Settings of the archive, read from ``WORKBENCH_*`` environment variables.

Every setting has an embedded default, so ``workbench serve`` runs with nothing
configured: SQLite (WAL) and a local blob folder under one data directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Archive configuration (environment prefix ``WORKBENCH_``)."""

    model_config = SettingsConfigDict(env_prefix="WORKBENCH_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"), description="Folder holding the index database and the blobs."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the index; default: SQLite file index.sqlite in data_dir.",
    )
    host: str = Field(default="127.0.0.1", description="Address `workbench serve` binds.")
    port: int = Field(default=8042, description="Port `workbench serve` listens on.")
    public_url: str | None = Field(
        default=None,
        description="URL clients use to reach this server (behind a proxy); default: from "
        "the request's Host header.",
    )
    admin_token: str | None = Field(
        default=None,
        description=(
            "Bearer token of the bootstrap administrator. When unset, one is generated on the "
            "first start and written to <data_dir>/admin-token (mode 0600)."
        ),
    )
    duplicates: Literal["reject", "overwrite"] = Field(
        default="reject",
        description=(
            "What STOW-RS does with an instance whose SOP Instance UID is stored already with "
            "different bytes; identical bytes are always accepted as a no-op."
        ),
    )
    max_request_bytes: int = Field(
        default=8 * 1024**3, description="Largest STOW-RS request body accepted."
    )
    max_instance_bytes: int = Field(
        default=2 * 1024**3, description="Largest single DICOM instance accepted."
    )
    max_header_bytes: int = Field(
        default=64 * 1024**2,
        description="Largest DICOM header (everything before Pixel Data) accepted.",
    )
    max_media_bytes: int = Field(
        default=1024**3, description="Largest non-DICOM file (media upload) accepted."
    )
    ingest_threads: int = Field(
        default=4, description="Worker threads parsing, hashing and writing received instances."
    )
    workers: int = Field(
        default=0,
        description="Server processes `workbench serve` starts; 0 means one per CPU core "
        "(at most 4). They share the index (SQLite WAL serialises their commits) and blobs.",
    )
    prepared: bool = Field(
        default=False,
        description="Set by `workbench serve` for its worker processes: the data directory "
        "is migrated and swept already, so a worker must not sweep another's blobs in progress.",
    )
    job_worker: bool = Field(
        default=True,
        description="Run a job worker thread in this process (durable events, the daily "
        "purge): turn it off on API-only processes when other processes work the job table.",
    )
    purge_hour: int = Field(
        default=2, ge=-1, le=23,
        description="UTC hour from which the daily retention purge runs (one per day for "
        "the whole cluster, through the job table); -1: no automatic purge.",
    )
    qido_max_limit: int = Field(
        default=10000, description="Largest number of results one QIDO-RS response returns."
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for sign-up and invitation e-mails; unset: messages are "
        "written to <data_dir>/outbox as .eml files.",
    )
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS with the SMTP server.")
    smtp_username: str | None = Field(default=None, description="SMTP login, if needed.")
    smtp_password: str | None = Field(default=None, description="SMTP password, if needed.")
    mail_from: str = Field(default="workbench@localhost", description="From address of e-mails.")
    payment_provider: Literal["test"] = Field(
        default="test",
        description="Payment provider; `test` tokenises on the client and declines the "
        "well-known test card numbers (server/services/payments.py).",
    )
    prices_file: Path | None = Field(
        default=None,
        description="The price table (YAML or JSON, integer cents; keys of "
        "workbench.billing.PriceTable); unset: the defaults in workbench/billing.py.",
    )
    login_attempts_per_minute: int = Field(
        default=20, ge=1, description="Log-in attempts one client address may make per minute.")
    hub_api_url: str | None = Field(
        default=None, validation_alias="JUPYTERHUB_API_URL",
        description="JupyterHub API URL (set by the Hub for services): Hub tokens then "
        "authenticate users mapped by their Hub name.",
    )
    hub_api_token: str | None = Field(
        default=None, validation_alias="JUPYTERHUB_API_TOKEN",
        description="The archive's own Hub service token.",
    )
    hub_service_name: str = Field(
        default="archive", validation_alias="JUPYTERHUB_SERVICE_NAME",
        description="The archive's service name at the Hub: Hub tokens need the scope "
        "`access:services!service=<name>` (or `access:services`).",
    )
    hub_service_prefix: str | None = Field(
        default=None, validation_alias="JUPYTERHUB_SERVICE_PREFIX",
        description="Path the Hub's proxy serves the archive at (`/services/archive/`); "
        "stripped from requests that carry it (server/auth/hub.py).",
    )
    hub_client_id: str | None = Field(
        default=None, validation_alias="JUPYTERHUB_CLIENT_ID",
        description="The archive's OAuth client id at the Hub: browsers then log in with "
        "their Hub identity (`/oauth_callback`).",
    )
    hub_oauth_callback_url: str | None = Field(
        default=None, validation_alias="JUPYTERHUB_OAUTH_CALLBACK_URL",
        description="The OAuth redirect URI registered at the Hub.",
    )
    hub_base_url: str = Field(
        default="/", validation_alias="JUPYTERHUB_BASE_URL",
        description="The Hub's base path (its OAuth pages are under `<base>hub/api/oauth2/`).",
    )
    hub_host: str = Field(
        default="", validation_alias="JUPYTERHUB_HOST",
        description="The Hub's public origin when it differs from the archive's (usually "
        "empty: same origin).",
    )
    # -- Reports (server/routes/reports.py, docs/reports.md) ---------------------------
    report_keyring: Path | None = Field(
        default=None, description="Master key ring sealing the physicians' signing keys "
        "(JSON, mode 0600); default <data_dir>/keys/signing-keyring.json. Keep it out of "
        "database backups.")
    report_sign_password: bool = Field(
        default=True, description="Signing asks for the physician's password again (users "
        "without one, e.g. JupyterHub users, sign with their session).")
    report_email_attachments: bool = Field(
        default=False, description="E-mail final reports as PDF attachments; default: a "
        "secure link that only the recipient, logged in, can open.")
    report_link_days: int = Field(
        default=30, ge=1, description="Days a report link in an e-mail stays valid.")
    report_delivery_attempts: int = Field(
        default=5, ge=1, description="Attempts per report delivery before it is failed.")
    report_retry_s: float = Field(
        default=60.0, gt=0, description="Wait before the first retry of a delivery; doubled "
        "after each failure.")
    fax_spool_dir: Path | None = Field(
        default=None, description="Spool folder of the fax gateway; default "
        "<data_dir>/fax-spool.")
    max_dictation_bytes: int = Field(
        default=200 * 1024**2, ge=1, description="Largest dictation audio file accepted.")
    # -- DICOM networking (server/dimse, docs/dimse.md) --------------------------------
    dimse_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="Port of the DIMSE listener that `workbench serve` starts (one process); "
        "unset: none. `workbench drive` listens on it too (default 11112).")
    dimse_host: str | None = Field(
        default=None, description="Address the DIMSE listener binds; default: `host`.")
    dimse_ae_title: str = Field(
        default="WORKBENCH", min_length=1, max_length=16,
        description="Called AE title of the listener (also its title as a C-MOVE sender).")
    dimse_check_called_ae: bool = Field(
        default=True, description="Reject associations addressed to another called AE title.")
    dimse_max_pdu: int = Field(
        default=262144, ge=0,
        description="Largest PDU the listener receives (bytes; 0: no limit). Larger PDUs "
        "cost fewer round trips through pynetdicom per instance.")
    dimse_processes: int = Field(
        default=0, ge=0, le=64,
        description="DIMSE listener processes sharing the port under `workbench serve` "
        "(SO_REUSEPORT); 0: as many as HTTP worker processes.")
    dimse_max_associations: int = Field(
        default=16, ge=1, description="Associations served at once; more are rejected.")
    dimse_timeout: float = Field(
        default=60.0, gt=0, description="Seconds a peer may stay silent (network, ACSE and "
        "DIMSE timeouts) before the association is aborted.")
    forward_url: str | None = Field(
        default=None, description="`workbench drive --forward`: the remote archive's "
        "DICOMweb root that spooled studies are sent to (STOW-RS).")
    forward_token: str | None = Field(
        default=None, description="Bearer token (a source's upload key) for the remote "
        "archive.")
    forward_idle_s: float = Field(
        default=30.0, ge=0, description="A study is complete (and sent) once no instance of "
        "it arrived for this many seconds.")
    forward_batch_bytes: int = Field(
        default=32 * 1024**2, ge=1, description="Largest STOW-RS request the forwarder sends.")
    forward_retry_max_s: float = Field(
        default=300.0, gt=0, description="Longest wait between two attempts to send.")
    forward_allowed_aes: str = Field(
        default="", description="Calling AE titles the forwarder accepts (space or comma "
        "separated); empty: any.")
    forward_status_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="Port of the forwarder's JSON status endpoint (GET /status); unset: none.")
    spool_dir: Path | None = Field(
        default=None, description="The forwarder's spool folder; default <data_dir>/spool.")
    # -- Blobs on S3-compatible object storage (server/storage/s3.py, docs/scale-out.md) --
    blob_url: str | None = Field(
        default=None, description="Where blobs live: unset, the folders <data_dir>/blobs and "
        "<data_dir>/media; `s3://bucket[/prefix]`, objects <prefix>blobs/... and "
        "<prefix>media/... in a bucket of an S3-compatible store (AWS, MinIO, Ceph), staged "
        "and cached locally under <data_dir>/s3-cache.")
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of the object store (`http://minio:9000`); "
        "unset: AWS.")
    s3_region: str | None = Field(
        default=None, description="Region of the bucket; unset: boto3's configuration chain.")
    s3_access_key_id: str | None = Field(
        default=None, description="Access key; unset: the standard credential chain (AWS_* "
        "variables, shared files, an instance or container role).")
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret key belonging to s3_access_key_id.")
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto", description="Bucket addressing; `path` for most MinIO and Ceph set-ups.")
    s3_part_bytes: int = Field(
        default=16 * 1024**2, ge=5 * 1024**2, description="Blobs larger than this are "
        "uploaded in parts of this size (multipart upload).")
    s3_cache_bytes: int = Field(
        default=2 * 1024**3, ge=0, description="Local cache of each S3 store (DICOM, media): "
        "least recently used clean copies beyond this are removed.")

    @property
    def resolved_spool_dir(self) -> Path:
        """The forwarder's spool folder."""
        return self.spool_dir or self.data_dir / "spool"

    @property
    def resolved_database_url(self) -> str:
        """The index URL, defaulting to ``sqlite:///<data_dir>/index.sqlite``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'index.sqlite').resolve()}"

    @property
    def media_dir(self) -> Path:
        """Folder of the media (non-DICOM files) blob store."""
        return self.data_dir / "media"

    @property
    def blob_dir(self) -> Path:
        """Folder of the local blob store."""
        return self.data_dir / "blobs"
