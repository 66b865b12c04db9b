"""What the report routes share in a server process: templates, keys, distribution,
dictation files and the speech engine. Created in ``create_app``'s lifespan as
``app.state.reports``; :func:`get_reports` is the route dependency.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from server.config import Settings
from server.services.reports_keys import SigningKeys
from workbench.reports.registry import TemplateRegistry, builtin_templates
from workbench.reports.speech import SpeechEngine

if TYPE_CHECKING:
    from server.deps import Services
    from server.services.distribution import Distribution


@dataclass
class ReportServices:
    """Report services of one process."""

    services: Services
    registry: TemplateRegistry
    keys: SigningKeys
    distribution: Distribution
    _speech: SpeechEngine | None = None
    _speech_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def engine(self) -> Engine:
        """The index."""
        return self.services.engine

    @property
    def settings(self) -> Settings:
        """The archive's settings."""
        return self.services.settings

    @classmethod
    def start(cls, services: Services) -> ReportServices:
        """Load templates and the key ring, start the distribution worker."""
        from server.services.distribution import Distribution

        settings = services.settings
        keyring = settings.report_keyring or settings.data_dir / "keys" / "signing-keyring.json"
        rs = cls(services, builtin_templates(), SigningKeys(keyring),
                 Distribution.for_settings(services))
        rs.distribution.bind(rs)
        rs.distribution.start()
        from server.services.events import STUDY_DELETED
        from server.services.reports_dictation import on_study_deleted

        services.events.subscribe(STUDY_DELETED, lambda payload: on_study_deleted(rs, payload))
        return rs

    def speech(self) -> SpeechEngine:
        """The speech engine (PocketSphinx, loaded at first use)."""
        with self._speech_lock:
            if self._speech is None:
                from workbench.reports.speech import PocketSphinxEngine

                self._speech = PocketSphinxEngine()
            return self._speech

    def close(self) -> None:
        """Stop the distribution worker."""
        self.distribution.close()


async def get_reports(request: Request) -> ReportServices:
    """The process's report services (set up by ``create_app``)."""
    reports: ReportServices = request.app.state.reports
    return reports


ReportsDep = Annotated[ReportServices, Depends(get_reports)]
