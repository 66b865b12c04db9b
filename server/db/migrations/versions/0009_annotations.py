"""annotations: measurements, arrows and text drawn on a study's images

Revision ID: 0009
Revises: 0003
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotations",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("series_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("points_json", sa.Text(), nullable=False),
        sa.Column("points_mm_json", sa.Text(), nullable=True),
        sa.Column("measurement_json", sa.Text(), nullable=True),
        sa.Column("author_user_pk", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["study_pk"], ["studies.pk"],
                                name=op.f("fk_annotations_study_pk_studies"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_annotations")),
    )
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_annotations_study_pk"), ["study_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_annotations_account_pk"), ["account_pk"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_annotations_author_user_pk"), ["author_user_pk"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("annotations")
