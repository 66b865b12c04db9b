"""Migration 0010 (QIDO indexes) applies on SQLite and PostgreSQL and serves the searches.

The figures behind it come from ``benchmarks/qido_scale.py`` (docs/scale-out.md); these
tests check that the indexes exist after ``upgrade`` on both engines, that 0010 goes down
and up again, and that SQLite's planner, with statistics, answers the study page and a
date range from ``ix_studies_date_pk`` instead of sorting every visible study.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, text

from server.auth.permissions import Principal
from server.db.engine import alembic_config, make_engine, refresh_statistics, upgrade
from server.db.models import patients, studies
from server.db.qido import Scope, build_select
from server.db.visibility import visible_studies
from tests.conftest import POSTGRES
from workbench.dicomweb.query import QueryLevel, parse_qido

ADMIN = Principal(user_pk=1, account_pk=1, account_state="active", label="admin",
                  roles=frozenset({"administrator"}))


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'index.sqlite'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _names(engine: Engine) -> set[str]:
    return {ix["name"] for ix in inspect(engine).get_indexes("studies") if ix["name"]}


def _plan(engine: Engine, params: str) -> str:
    query = parse_qido(parse_qsl(params), QueryLevel.STUDY, max_limit=10_000)
    stmt = build_select(query, Scope(visible=visible_studies(ADMIN)))
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        return "\n".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))


def test_sqlite_gets_the_order_index(sqlite_engine: Engine) -> None:
    assert "ix_studies_date_pk" in _names(sqlite_engine)
    assert "ix_studies_patient_name_lower" not in _names(sqlite_engine)


def test_0010_goes_down_and_up_again(sqlite_engine: Engine) -> None:
    cfg = alembic_config(sqlite_engine.url.render_as_string(hide_password=False))
    command.downgrade(cfg, "0010@0003")
    assert "ix_studies_date_pk" not in _names(sqlite_engine)
    upgrade(sqlite_engine)
    assert "ix_studies_date_pk" in _names(sqlite_engine)


def test_sqlite_pages_and_date_ranges_read_the_order_index(sqlite_engine: Engine) -> None:
    now = datetime(2026, 1, 1)
    with sqlite_engine.begin() as conn:
        pk = conn.execute(insert(patients).values(
            account_pk=1, patient_id="P", issuer="", created_at=now)).inserted_primary_key[0]
        conn.execute(insert(studies), [
            {"study_uid": f"1.2.3.{i}", "account_pk": 1, "patient_pk": pk,
             "patient_id": f"P{i}", "patient_name": f"NAME{i % 50}^X",
             "study_date": f"{2016 + i % 10}{1 + i % 12:02d}{1 + i % 28:02d}",
             "created_at": now, "updated_at": now} for i in range(3000)])
        conn.execute(text("ANALYZE"))
    page = _plan(sqlite_engine, "limit=1000&offset=2000")
    assert "ix_studies_date_pk" in page and "TEMP B-TREE" not in page, page
    dated = _plan(sqlite_engine, "StudyDate=20200301-20200531&limit=100")
    assert "ix_studies_date_pk" in dated, dated
    by_id = _plan(sqlite_engine, "PatientID=P17")
    assert "ix_studies_patient_id" in by_id, by_id


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES, reason="runs in the PostgreSQL pass of `make test` "
                                         "(scripts/with-postgres.sh sets WORKBENCH_TEST_POSTGRES)")
def test_postgresql_gets_both_indexes() -> None:
    import psycopg

    name = f"wb_ix_{uuid.uuid4().hex[:10]}"
    plain = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"{POSTGRES}/{name}")
    try:
        upgrade(engine)
        with engine.connect() as conn:
            found = dict(conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'studies'")).all())
        assert "study_date DESC" in found["ix_studies_date_pk"]
        assert "varchar_pattern_ops" in found["ix_studies_patient_name_lower"]
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        command.downgrade(cfg, "0010@0003")
        assert "ix_studies_patient_name_lower" not in _names(engine)
    finally:
        engine.dispose()
        with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_statistics_refreshed_for_an_archive_created_empty(sqlite_engine: Engine) -> None:
    """An archive created empty has no statistics; ``refresh_statistics`` (run at every
    start) gives the planner the order index for the page, without a temporary sort. (With
    more rows than it samples, sampling alone leaves the one-account index looking
    selective and the page sorted: the studies table must be counted in full.)"""
    now = datetime(2026, 1, 1)
    n = 12_000                       # more than the 1,000 rows sampled per index
    with sqlite_engine.begin() as conn:
        conn.execute(insert(patients), [
            {"pk": i + 1, "account_pk": 1, "patient_id": f"P{i}", "issuer": "",
             "created_at": now} for i in range(n)])
        conn.execute(insert(studies), [
            {"study_uid": f"1.2.3.{i}", "account_pk": 1, "patient_pk": i + 1,
             "patient_id": f"P{i}", "patient_name": f"NAME{i % 50}^X",
             "study_date": f"{2016 + i % 10}{1 + i % 12:02d}{1 + i % 28:02d}",
             "created_at": now, "updated_at": now} for i in range(n)])
    refresh_statistics(sqlite_engine)
    with sqlite_engine.connect() as conn:
        analysed = {r[0] for r in conn.execute(text("SELECT idx FROM sqlite_stat1"))}
    assert "ix_studies_date_pk" in analysed
    page = _plan(sqlite_engine, "limit=1000&offset=2000")
    assert "ix_studies_date_pk" in page and "TEMP B-TREE" not in page, page


def test_a_date_range_upper_bound_is_an_index_range(sqlite_engine: Engine) -> None:
    """The partial upper bound gets an implied, index-friendly twin: the range is a
    search of ``ix_studies_date_pk`` with both ends (``<?`` in SQLite's plan), and the
    answers are those of the prefix comparison alone."""
    now = datetime(2026, 1, 1)
    dates = ["20151231", "20160101", "20160615", "20161231", "20170101", ""]
    with sqlite_engine.begin() as conn:
        pk = conn.execute(insert(patients).values(
            account_pk=1, patient_id="P", issuer="", created_at=now)).inserted_primary_key[0]
        conn.execute(insert(studies), [
            {"study_uid": f"1.2.4.{i}", "account_pk": 1, "patient_pk": pk,
             "patient_id": f"P{i}", "patient_name": "X^Y", "study_date": d,
             "created_at": now, "updated_at": now} for i, d in enumerate(dates)])
    refresh_statistics(sqlite_engine)
    query = parse_qido(parse_qsl("StudyDate=20160101-20161231"), QueryLevel.STUDY, max_limit=100)
    stmt = build_select(query, Scope(visible=visible_studies(ADMIN)))
    with sqlite_engine.connect() as conn:
        found = sorted(r.study_date for r in conn.execute(stmt))
    assert found == ["20160101", "20160615", "20161231"]
    plan = _plan(sqlite_engine, "StudyDate=20160101-20161231&limit=100")
    assert "ix_studies_date_pk (study_date>? AND study_date<?)" in plan, plan
