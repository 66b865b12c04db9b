"""Engine creation and schema migration for the index database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_begin(conn: Connection) -> None:
    # pysqlite's own transaction handling is off (isolation_level None): we say BEGIN, so
    # that writers can take the write lock up front (see write_transaction).
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while one writer commits; FULL fsyncs the WAL at every commit,
    # so an acknowledged STOW survives a killed process and a power cut alike.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create the index engine for ``url``.

    Parameters
    ----------
    url
        SQLAlchemy URL; ``sqlite:///...`` gets WAL mode, ``synchronous=NORMAL``,
        foreign keys and a busy timeout on every connection.

    Returns
    -------
    Engine
        The engine; call :func:`upgrade` once before use.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=16,
            max_overflow=16,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)


@contextmanager
def write_transaction(engine: Engine, *, durable: bool = False) -> Iterator[Connection]:
    """A transaction that writes: on SQLite it takes the write lock at BEGIN (IMMEDIATE).

    Several server processes share one SQLite index; with a deferred BEGIN two of them
    could both read "no such study" and both insert it. IMMEDIATE makes the second wait
    (busy timeout) and then read what the first committed. On PostgreSQL a transaction-
    level advisory lock (:data:`WRITE_LOCK`) gives writers the same one-at-a-time order.

    Parameters
    ----------
    durable
        Sync the commit to disk before returning (SQLite ``synchronous=FULL`` for this
        transaction). Needed where nothing else can replay the change after a power cut,
        e.g. deletions.
    """
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        raw = conn.connection.dbapi_connection if sqlite and durable else None
        if raw is not None:
            raw.execute("PRAGMA synchronous=FULL")
        try:
            if sqlite:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                if engine.dialect.name == "postgresql":
                    # the same one-writer-at-a-time rule as SQLite's write lock: the
                    # indexer's "find or insert" and the audit chain's "read the last hash,
                    # append" rely on it (held until commit or rollback)
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
                yield conn
        finally:
            if raw is not None:
                raw.execute("PRAGMA synchronous=NORMAL")


def refresh_statistics(engine: Engine, *, sample_rows: int = 1000) -> None:
    """Give SQLite's query planner current statistics of the index (``ANALYZE``).

    Without them SQLite plans every study search by the visibility clause's account index
    and sorts all visible studies (docs/scale-out.md, "QIDO at 100,000 studies"); an archive
    created empty has none. ``analysis_limit`` samples at most ``sample_rows`` rows per
    index, except for ``studies``, which is counted in full (about 0.1 s per 100,000
    studies). PostgreSQL's autovacuum keeps its own statistics: nothing is done there.

    Parameters
    ----------
    engine
        The index engine.
    sample_rows
        Rows sampled per index (SQLite ``PRAGMA analysis_limit``).
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute(f"PRAGMA analysis_limit={int(sample_rows)}")
        raw.execute("ANALYZE")
        # sampled, an index whose one value covers every row (``account_pk`` of a
        # one-practice archive) looks selective, and the planner goes back to sorting
        # every visible study: the studies table is counted in full
        raw.execute("PRAGMA analysis_limit=0")
        raw.execute("ANALYZE studies")


WRITE_LOCK = 4242_0001
"""The advisory lock key PostgreSQL writers serialise on."""


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema of ``engine``'s database to the newest migrations.

    ``heads``: features developed side by side add migrations on parallel branches from
    the same parent (billing, reports, media each from 0003); a merge revision joins them
    when one is needed.
    """
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")
