"""web experience: each user's language and time zone, why an account was disabled, password resets by e-mail,
messages on matches, meeting cancellations, match requests and decline reasons

Revision ID: 0007_web
Revises: 0005
Depends on: 0002 (matches and meetings)
Create Date: 2026-12-02 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import abb.core.database

revision = "0007_web"
down_revision = "0005"
branch_labels = None
depends_on = "0002"  # matches and meetings


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("status_reason", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("status_changed_at", abb.core.database.UTCDateTime(), nullable=True))
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", abb.core.database.UTCDateTime(), nullable=False),
        sa.Column("expires_at", abb.core.database.UTCDateTime(), nullable=True),
        sa.Column("used_at", abb.core.database.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_resets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    op.create_index(op.f("ix_password_resets_user_id"), "password_resets", ["user_id"], unique=False)
    op.create_table(
        "match_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("author_side", sa.Enum("sme", "partner", name="side", native_enum=False, length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", abb.core.database.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_match_messages_match_id_matches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_match_messages_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_messages")),
    )
    op.create_index(op.f("ix_match_messages_match_id"), "match_messages", ["match_id"], unique=False)
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("decline_reason", sa.String(length=500), nullable=True))
        batch.add_column(
            sa.Column(
                "requested_by", sa.Enum("sme", "partner", name="side", native_enum=False, length=16), nullable=True
            )
        )
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("cancelled_at", abb.core.database.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.drop_column("cancel_reason")
        batch.drop_column("cancelled_at")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("requested_by")
        batch.drop_column("decline_reason")
    op.drop_index(op.f("ix_match_messages_match_id"), table_name="match_messages")
    op.drop_table("match_messages")
    op.drop_index(op.f("ix_password_resets_user_id"), table_name="password_resets")
    op.drop_table("password_resets")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("status_changed_at")
        batch.drop_column("status_reason")
        batch.drop_column("time_zone")
        batch.drop_column("locale")
