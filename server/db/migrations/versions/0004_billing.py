"""billing ledger (append-only), month closings, study retention terms

The ledger refuses UPDATE and DELETE through triggers (SQLite and PostgreSQL), so an
entry once written stays as written; corrections are new entries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = "the billing ledger is append-only: add a credit instead of changing an entry"


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["account_pk"], ["accounts.pk"],
                                name=op.f("fk_ledger_entries_account_pk_accounts")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("account_pk", "idempotency_key",
                            name=op.f("uq_ledger_entries_account_pk")),
    )
    op.create_index("ix_ledger_entries_account_at", "ledger_entries", ["account_pk", "at"])
    op.create_index(op.f("ix_ledger_entries_at"), "ledger_entries", ["at"])
    op.create_index(op.f("ix_ledger_entries_study_uid"), "ledger_entries", ["study_uid"])
    op.create_table(
        "month_closings",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("minimum_due", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_pk"], ["accounts.pk"],
                                name=op.f("fk_month_closings_account_pk_accounts")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_month_closings")),
        sa.UniqueConstraint("account_pk", "period", name=op.f("uq_month_closings_account_pk")),
    )
    op.create_index(op.f("ix_month_closings_account_pk"), "month_closings", ["account_pk"])
    op.create_table(
        "study_retention",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("receipt", sa.Integer(), nullable=False),
        sa.Column("paid_months", sa.Integer(), nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.Text(), nullable=False),
        sa.Column("hold_by", sa.String(length=300), nullable=False),
        sa.Column("hold_at", sa.DateTime(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.Column("num_instances", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("modalities", sa.String(length=200), nullable=False),
        sa.Column("pending_blobs", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_pk"], ["accounts.pk"],
                                name=op.f("fk_study_retention_account_pk_accounts")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_study_retention")),
        sa.UniqueConstraint("study_uid", name=op.f("uq_study_retention_study_uid")),
    )
    op.create_index(op.f("ix_study_retention_account_pk"), "study_retention", ["account_pk"])
    op.create_index(op.f("ix_study_retention_purged_at"), "study_retention", ["purged_at"])
    _append_only(op.get_bind().dialect.name)


def _append_only(dialect: str) -> None:
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER ledger_entries_no_{event.lower()} BEFORE {event} ON "
                       f"ledger_entries BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
    elif dialect == "postgresql":
        op.execute("CREATE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$ BEGIN "
                   f"RAISE EXCEPTION '{APPEND_ONLY}'; END $$ LANGUAGE plpgsql")
        op.execute("CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON "
                   "ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_append_only()")
    op.drop_index(op.f("ix_study_retention_purged_at"), table_name="study_retention")
    op.drop_index(op.f("ix_study_retention_account_pk"), table_name="study_retention")
    op.drop_table("study_retention")
    op.drop_index(op.f("ix_month_closings_account_pk"), table_name="month_closings")
    op.drop_table("month_closings")
    op.drop_index(op.f("ix_ledger_entries_study_uid"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_at"), table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_account_at", table_name="ledger_entries")
    op.drop_table("ledger_entries")
