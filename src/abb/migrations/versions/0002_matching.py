"""matching: matches and meetings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 18:10:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import abb.core.database

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    side = ("sme", "partner")
    decision = ("pending", "accepted", "declined")
    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sme_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("sme_explanation", sa.Text(), nullable=False),
        sa.Column("partner_explanation", sa.Text(), nullable=False),
        sa.Column(
            "status",
            _enum("matchstatus", "suggested", "accepted", "declined", "connected", "closed"),
            nullable=False,
        ),
        sa.Column("sme_decision", _enum("decision", *decision), nullable=False),
        sa.Column("partner_decision", _enum("decision", *decision), nullable=False),
        sa.Column("sme_decided_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("partner_decided_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("connected_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", _enum("side", *side), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["sme_id"], ["sme_profiles.id"], name=op.f("fk_matches_sme_id_sme_profiles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner_profiles.id"],
            name=op.f("fk_matches_partner_id_partner_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
        sa.UniqueConstraint("sme_id", "partner_id", name="uq_matches_sme_id_partner_id"),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index("ix_matches_partner_id_score", ["partner_id", "score"], unique=False)
        batch_op.create_index("ix_matches_sme_id_score", ["sme_id", "score"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_status"), ["status"], unique=False)

    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("proposed_by", _enum("side", *side), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("video_link", sa.String(length=500), nullable=False),
        sa.Column("status", _enum("meetingstatus", "proposed", "accepted"), nullable=False),
        sa.Column("starts_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_meetings_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetings_match_id"), ["match_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetings_match_id"))
    op.drop_table("meetings")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_status"))
        batch_op.drop_index("ix_matches_sme_id_score")
        batch_op.drop_index("ix_matches_partner_id_score")
    op.drop_table("matches")
