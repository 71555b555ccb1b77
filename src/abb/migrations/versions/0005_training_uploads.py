"""training courses, enrollments and uploaded documents

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-27 18:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import abb.core.database

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=160), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("course", "webinar", name="coursekind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column(
            "level",
            sa.Enum("beginner", "intermediate", "advanced", name="courselevel", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("starts_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("instructor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_courses_capacity_positive")),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_courses_price_not_negative")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_courses_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["instructor_id"], ["users.id"], name=op.f("fk_courses_instructor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
    )
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_courses_language"), ["language"], unique=False)
        batch_op.create_index(batch_op.f("ix_courses_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "enrolled",
                "waitlisted",
                "cancelled",
                "completed",
                name="enrollmentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("queued_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_enrollments_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_enrollments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("course_id", "user_id", name="uq_enrollments_course_user"),
    )
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrollments_course_id"), ["course_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_enrollments_user_id"), ["user_id"], unique=False)

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("logo", "registration_certificate", "other", name="documentkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("storage_key", sa.String(length=32), nullable=False),
        sa.Column("original_name", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_documents_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_documents_storage_key")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_owner_id"))
    op.drop_table("documents")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrollments_user_id"))
        batch_op.drop_index(batch_op.f("ix_enrollments_course_id"))
    op.drop_table("enrollments")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_courses_starts_at"))
        batch_op.drop_index(batch_op.f("ix_courses_language"))
    op.drop_table("courses")
