"""Settings of the archive, read from ``WORKBENCH_*`` environment variables.

Every setting has an embedded default, so ``workbench serve`` runs with nothing
configured: SQLite (WAL) and a local blob folder under one data directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
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
