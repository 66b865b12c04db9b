"""``workbench db copy``: move an archive's index to another database (SQLite -> PostgreSQL).

The target must be empty (no rows; a database created for it and nothing else). It is
migrated to the newest schema (whose seed rows are then replaced), then every table of the
source is copied in foreign-key order, in batches, inside one target transaction (a
failed copy leaves the target empty again); PostgreSQL sequences are moved past the
copied keys and the row count of every table is compared before the command says done.
Stop the archive (every ``workbench serve`` process) while it runs: the source is read in
one transaction, so a copy is consistent, but what is stored after it starts is not in it.
Blobs stay where they are; point the new configuration's data directory at the same folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, Table, func, select, text
from sqlalchemy.engine import make_url
from tqdm import tqdm

from server.config import Settings
from server.db.engine import make_engine, upgrade

SKIPPED = frozenset({"alembic_version"})
"""Tables not copied: the target's migration history is written by its own upgrade."""


class TargetNotEmptyError(RuntimeError):
    """The target database already holds rows; copying into it could mix two archives."""


@dataclass
class CopyReport:
    """What a copy moved: rows per table, in the order they were copied."""

    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows copied over all tables."""
        return sum(self.rows.values())

    def text(self) -> str:
        """One line per table and a total, for the command's output."""
        lines = [f"  {name:<24} {count:>10}" for name, count in self.rows.items()]
        return "\n".join([*lines, f"copied {self.total} rows in {len(self.rows)} tables"])


def _tables(engine: Engine) -> MetaData:
    metadata = MetaData()
    metadata.reflect(engine)
    return metadata


def _counts(conn: Connection, tables: list[Table]) -> dict[str, int]:
    return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in tables}


def _check_empty(target: Engine) -> None:
    tables = [t for t in _tables(target).sorted_tables if t.name not in SKIPPED]
    with target.connect() as conn:
        full = {name: n for name, n in _counts(conn, tables).items() if n}
    if full:
        names = ", ".join(f"{name} ({n} rows)" for name, n in sorted(full.items()))
        raise TargetNotEmptyError(f"the target database is not empty: {names}")


def _copy_table(source: Connection, target: Connection, src: Table, dst: Table,
                batch_size: int, bar: tqdm) -> int:  # type: ignore[type-arg]
    missing = set(src.columns.keys()) ^ set(dst.columns.keys())
    if missing:
        raise RuntimeError(f"table {src.name}: columns differ between source and target "
                           f"({', '.join(sorted(missing))}); are both at the same migration?")
    names = list(dst.columns.keys())
    order = list(src.primary_key.columns) or [src.columns[names[0]]]
    result = source.execution_options(yield_per=batch_size).execute(
        select(*(src.columns[n] for n in names)).order_by(*order))
    copied = 0
    for rows in result.partitions():
        target.execute(dst.insert(), [dict(zip(names, row, strict=True)) for row in rows])
        copied += len(rows)
        bar.update(len(rows))
    return copied


def _fix_sequences(target: Connection, tables: list[Table]) -> None:
    """Move each table's key sequence past the copied keys (PostgreSQL only)."""
    if target.dialect.name != "postgresql":
        return
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or keys[0].type.python_type is not int:
            continue
        name, column = table.name, keys[0].name
        target.execute(text(
            f'SELECT setval(pg_get_serial_sequence(:t, :c), '  # noqa: S608 (reflected names)
            f'COALESCE(MAX("{column}"), 1), MAX("{column}") IS NOT NULL) FROM "{name}"'),
            {"t": f'"{name}"', "c": column})


def copy_database(source: Engine, target: Engine, *, batch_size: int = 2000,
                  progress: bool = True) -> CopyReport:
    """Copy every row of `source`'s index into the empty database of `target`.

    Parameters
    ----------
    source, target
        Engines of the archive's index and of the new database. Both are migrated to the
        newest schema first (the source as ``workbench serve`` would at its next start).
    batch_size
        Rows read and inserted per statement.
    progress
        Show a tqdm progress bar over all rows (on stderr).

    Returns
    -------
    CopyReport
        Rows copied per table.

    Raises
    ------
    TargetNotEmptyError
        The target holds rows in any table (nothing is written then).
    RuntimeError
        The schemas differ, or a table's row count differs after the copy (the target's
        transaction is rolled back).
    """
    _check_empty(target)
    upgrade(source)
    upgrade(target)
    src_meta, dst_meta = _tables(source), _tables(target)
    order = [t for t in dst_meta.sorted_tables if t.name not in SKIPPED]
    absent = {t.name for t in order} ^ (set(src_meta.tables) - SKIPPED)
    if absent:
        raise RuntimeError(f"tables differ between source and target: {sorted(absent)}")
    report = CopyReport()
    with source.connect() as src_conn, src_conn.begin(), target.begin() as dst_conn:
        sources = [src_meta.tables[t.name] for t in order]
        expected = _counts(src_conn, sources)
        for table in reversed(order):  # rows the migrations seed (the local practice, ...)
            dst_conn.execute(table.delete())
        with tqdm(total=sum(expected.values()), unit="row", disable=not progress,
                  desc="copying index") as bar:
            for src, dst in zip(sources, order, strict=True):
                bar.set_postfix_str(src.name)
                report.rows[src.name] = _copy_table(src_conn, dst_conn, src, dst,
                                                    batch_size, bar)
        _fix_sequences(dst_conn, order)
        actual = _counts(dst_conn, order)
        wrong = {n: (expected[n], actual[n]) for n in expected if expected[n] != actual[n]}
        if wrong:
            raise RuntimeError(f"row counts differ after the copy (source, target): {wrong}")
    return report


def copy_command(to_url: str, data_dir: Path | None = None, from_url: str | None = None,
                 batch_size: int = 2000, progress: bool = True) -> int:
    """``workbench db copy``: copy the archive's index to `to_url`; print what was copied.

    Returns the exit status: 0 copied, 2 refused (target not empty or schemas differ).
    """
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    source_url = from_url or settings.resolved_database_url
    if make_url(source_url) == make_url(to_url):
        print("workbench db copy: the source and the target are the same database")
        return 2
    source, target = make_engine(source_url), make_engine(to_url)
    try:
        report = copy_database(source, target, batch_size=batch_size, progress=progress)
    except (TargetNotEmptyError, RuntimeError) as exc:
        print(f"workbench db copy: {exc}")
        return 2
    finally:
        source.dispose()
        target.dispose()
    print(report.text())
    print(f"target: {make_url(to_url).render_as_string(hide_password=True)}; set "
          "WORKBENCH_DATABASE_URL to it (same data directory for the blobs)")
    return 0
