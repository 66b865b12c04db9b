"""Alembic environment: runs migrations on the connection handed in by ``upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from server.db import accounts, audit, models  # noqa: F401  (tables register on Base)
from server.db import annotations as _annotations  # noqa: F401
from server.db import billing as _billing  # noqa: F401
from server.db import jobs as _jobs  # noqa: F401
from server.db import media as _media  # noqa: F401
from server.db import settings as _settings  # noqa: F401
from server.db.base import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Run migrations online, on a given connection or a fresh engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
