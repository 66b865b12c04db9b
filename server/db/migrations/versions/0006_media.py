"""media: non-DICOM files of studies and patient folders

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=True),
        sa.Column("upload_type", sa.String(length=32), nullable=False),
        sa.Column("media_type", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.String(length=512), nullable=False),
        sa.Column("sop_uid", sa.String(length=64), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploader", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_pk"], ["accounts.pk"],
                                name=op.f("fk_media_account_pk_accounts")),
        sa.ForeignKeyConstraint(["patient_pk"], ["patients.pk"],
                                name=op.f("fk_media_patient_pk_patients")),
        sa.ForeignKeyConstraint(["study_pk"], ["studies.pk"],
                                name=op.f("fk_media_study_pk_studies"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_media")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_account_pk"), ["account_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_patient_pk"), ["patient_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_study_pk"), ["study_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_table("media")
