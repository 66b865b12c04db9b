"""The PostgreSQL pass of ``make test`` really runs on PostgreSQL (marker ``postgres``)."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import POSTGRES, RunningArchive

pytestmark = pytest.mark.postgres


@pytest.mark.skipif(not POSTGRES, reason="runs in the PostgreSQL pass of `make test` "
                                         "(scripts/with-postgres.sh sets WORKBENCH_TEST_POSTGRES)")
def test_the_archive_index_lives_in_postgresql(fresh_archive: RunningArchive) -> None:
    plain = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres") as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database")]
    database = next(n for n in names if n.startswith("wb_"))
    assert not (fresh_archive.data_dir / "index.sqlite").exists()
    with psycopg.connect(f"{plain}/{database}") as conn:
        heads = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
    assert heads and all(h.isdigit() for h in heads)
