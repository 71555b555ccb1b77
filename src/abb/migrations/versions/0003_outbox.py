"""match notifications: which match was announced to whom by e-mail

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-27 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import abb.core.database

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sent_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_match_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_notifications")),
        sa.UniqueConstraint("match_id", "user_id", name="uq_match_notifications_match_id_user_id"),
    )
    with op.batch_alter_table("match_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_notifications_match_id"), ["match_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_match_notifications_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_notifications_user_id"))
        batch_op.drop_index(batch_op.f("ix_match_notifications_match_id"))
    op.drop_table("match_notifications")
