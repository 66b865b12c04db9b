"""reports: versions, signing keys, dictation, deliveries, exports, preferences

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-29 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("pk", name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str, ondelete: str | None = None
        ) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.pk"], ondelete=ondelete,
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def _index(table: str, *columns: str, unique: bool = False) -> None:
    op.create_index(op.f(f"ix_{table}_{columns[0]}"), table, list(columns), unique=unique)


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subject_json", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("reports", "study_pk", "studies", "CASCADE"), _pk("reports"),
        sa.UniqueConstraint("uid", name=op.f("uq_reports_uid")),
    )
    for column in ("study_pk", "account_pk", "status"):
        _index("reports", column)
    op.create_table(
        "report_versions",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("report_pk", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("content_json", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("author_user_pk", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("saved_at", sa.String(length=32), nullable=False),
        sa.Column("signature_json", sa.Text(), nullable=True),
        _fk("report_versions", "report_pk", "reports", "CASCADE"), _pk("report_versions"),
        sa.UniqueConstraint("report_pk", "number", name=op.f("uq_report_versions_report_pk")),
    )
    _index("report_versions", "report_pk")
    op.create_table(
        "signing_keys",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        _fk("signing_keys", "user_pk", "users"), _pk("signing_keys"),
        sa.UniqueConstraint("key_id", name=op.f("uq_signing_keys_key_id")),
    )
    _index("signing_keys", "user_pk")
    op.create_table(
        "dictations",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("report_pk", sa.Integer(), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("transcribed_by", sa.Integer(), nullable=True),
        sa.Column("transcribed_at", sa.DateTime(), nullable=True),
        sa.Column("recognized_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("dictations", "study_pk", "studies", "CASCADE"),
        _fk("dictations", "report_pk", "reports", "SET NULL"), _pk("dictations"),
    )
    for column in ("study_pk", "account_pk", "state"):
        _index("dictations", column)
    op.create_table(
        "report_deliveries",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("report_pk", sa.Integer(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("recipient_user_pk", sa.Integer(), nullable=True),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("gateway_job", sa.String(length=64), nullable=False),
        sa.Column("link_sha256", sa.String(length=64), nullable=True),
        sa.Column("link_expires_at", sa.DateTime(), nullable=True),
        sa.Column("link_base", sa.String(length=300), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        _fk("report_deliveries", "report_pk", "reports", "CASCADE"), _pk("report_deliveries"),
        sa.UniqueConstraint("link_sha256", name=op.f("uq_report_deliveries_link_sha256")),
    )
    for column in ("report_pk", "state", "next_attempt_at"):
        _index("report_deliveries", column)
    op.create_table(
        "report_exports",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("report_pk", sa.Integer(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sop_uid", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("report_exports", "report_pk", "reports", "CASCADE"), _pk("report_exports"),
    )
    _index("report_exports", "report_pk")
    op.create_table(
        "report_preferences",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        _fk("report_preferences", "user_pk", "users", "CASCADE"), _pk("report_preferences"),
        sa.UniqueConstraint("user_pk", "modality", name=op.f("uq_report_preferences_user_pk")),
    )
    _index("report_preferences", "user_pk")


def downgrade() -> None:
    for table in ("report_preferences", "report_exports", "report_deliveries", "dictations",
                  "signing_keys", "report_versions", "reports"):
        op.drop_table(table)
