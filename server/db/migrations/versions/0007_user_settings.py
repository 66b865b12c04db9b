"""user_settings: viewing preferences and hanging protocols per user

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-29 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_settings",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"],
                                name=op.f("fk_user_settings_user_pk_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_user_settings")),
        sa.UniqueConstraint("user_pk", "kind", "name", name=op.f("uq_user_settings_user_pk")),
    )
    with op.batch_alter_table("user_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_settings_user_pk"), ["user_pk"], unique=False)


def downgrade() -> None:
    op.drop_table("user_settings")
