"""security: the audit chain (append-only on PostgreSQL), lockouts, incidents; privacy: consents, access log

Revision ID: 0006_security
Revises: 0005
Create Date: 2026-12-02 19:41:28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import abb.core.database

revision = "0006_security"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appended_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=256), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("entity_type", sa.String(length=64), nullable=True),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_action_created", ["action", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_audit_log_ip_created", ["source_ip", "created_at"], unique=False)
        batch_op.create_index("ix_audit_log_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "audit_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verified_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("rows_checked", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_hash", sa.String(length=64), nullable=True),
        sa.Column("broken_at_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verifications")),
    )
    with op.batch_alter_table("audit_verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_verifications_verified_at"), ["verified_at"], unique=False)

    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_consents_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index("ix_consents_user_purpose_at", ["user_id", "purpose", "at"], unique=False)

    op.create_table(
        "lockouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.Enum("account", "ip", name="lockoutscope", native_enum=False, length=16), nullable=False),
        sa.Column("key", sa.String(length=254), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("unlocked_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unlocked_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["unlocked_by"], ["users.id"], name=op.f("fk_lockouts_unlocked_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lockouts")),
    )
    with op.batch_alter_table("lockouts", schema=None) as batch_op:
        batch_op.create_index("ix_lockouts_scope_key_until", ["scope", "key", "locked_until"], unique=False)

    op.create_table(
        "personal_data_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("viewer_id", sa.Integer(), nullable=True),
        sa.Column("subject_user_id", sa.Integer(), nullable=False),
        sa.Column("what", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_user_id"],
            ["users.id"],
            name=op.f("fk_personal_data_access_subject_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["viewer_id"], ["users.id"], name=op.f("fk_personal_data_access_viewer_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_access")),
    )
    with op.batch_alter_table("personal_data_access", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_personal_data_access_at"), ["at"], unique=False)
        batch_op.create_index("ix_personal_data_access_subject_at", ["subject_user_id", "at"], unique=False)

    op.create_table(
        "security_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "acknowledged", "resolved", name="incidentstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", abb.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_security_incidents_owner_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_incidents")),
    )
    with op.batch_alter_table("security_incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_incidents_status"), ["status"], unique=False)

    op.create_table(
        "security_incident_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", abb.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_security_incident_entries_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["security_incidents.id"],
            name=op.f("fk_security_incident_entries_incident_id_security_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_incident_entries")),
    )
    with op.batch_alter_table("security_incident_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_incident_entries_incident_id"), ["incident_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # The application has no path that changes audit rows; the database refuses it too.
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$;
            CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
                FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log; DROP FUNCTION audit_log_append_only()")
    with op.batch_alter_table("security_incident_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_incident_entries_incident_id"))

    op.drop_table("security_incident_entries")
    with op.batch_alter_table("security_incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_incidents_status"))

    op.drop_table("security_incidents")
    with op.batch_alter_table("personal_data_access", schema=None) as batch_op:
        batch_op.drop_index("ix_personal_data_access_subject_at")
        batch_op.drop_index(batch_op.f("ix_personal_data_access_at"))

    op.drop_table("personal_data_access")
    with op.batch_alter_table("lockouts", schema=None) as batch_op:
        batch_op.drop_index("ix_lockouts_scope_key_until")

    op.drop_table("lockouts")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_user_purpose_at")

    op.drop_table("consents")
    with op.batch_alter_table("audit_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_verifications_verified_at"))

    op.drop_table("audit_verifications")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_user_created")
        batch_op.drop_index("ix_audit_log_ip_created")
        batch_op.drop_index(batch_op.f("ix_audit_log_created_at"))
        batch_op.drop_index("ix_audit_log_action_created")

    op.drop_table("audit_log")
    op.drop_table("audit_head")
