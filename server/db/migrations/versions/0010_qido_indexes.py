"""qido indexes: study searches at 100,000 studies (order of results, name prefixes)

Every study-level QIDO-RS search orders by ``study_date DESC, pk`` (server/db/qido.py):
``ix_studies_date_pk`` gives that order straight from an index, so a page (with an
offset) or a date range reads index entries instead of sorting every visible study. On
PostgreSQL ``ix_studies_patient_name_lower`` serves ``lower(patient_name) LIKE 'abc%'``
(PatientName wildcards and fuzzy matching); SQLite cannot use an expression index for
LIKE, and its planner gets the order index instead. SQLite: ``ANALYZE`` so that an
archive being upgraded gets statistics (without them SQLite's planner takes the
visibility clause's ``account_pk`` index, which selects every study of a one-account
archive). Measured with benchmarks/qido_scale.py (docs/scale-out.md).

Revision ID: 0010
Revises: 0003
Create Date: 2026-11-29 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_studies_date_pk", "studies", [sa.text("study_date DESC"), "pk"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_studies_patient_name_lower ON studies "
                   "(lower(patient_name) varchar_pattern_ops)")
        op.execute("ANALYZE studies")
    elif bind.dialect.name == "sqlite":
        op.execute("ANALYZE")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_studies_patient_name_lower", table_name="studies")
    op.drop_index("ix_studies_date_pk", table_name="studies")
