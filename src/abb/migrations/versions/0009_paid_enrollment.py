"""training: paid enrollments hold a seat until paid; payments pay a deal or an enrollment

Revision ID: 0009_paid_enrollment
Revises: 0008_match_reasons
Create Date: 2026-12-03 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import abb.core.database

revision = "0009_paid_enrollment"
down_revision = "0008_match_reasons"
branch_labels = None
depends_on = "0004"  # deals: the payments table

CURRENCIES = ("EUR", "USD", "KES", "TZS", "ETB")
PROVIDERS = ("bank_transfer", "stripe_card")


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def upgrade() -> None:
    # The status column is text (no database enum), so 'awaiting_payment' and 'expired' need no change there.
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("amount_minor", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("currency", _enum("currency", CURRENCIES), nullable=False, server_default="EUR"))
        batch.add_column(sa.Column("received_minor", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("payment_reference", sa.String(length=25), nullable=True))
        batch.add_column(sa.Column("provider", _enum("providername", PROVIDERS), nullable=True))
        batch.add_column(sa.Column("hold_expires_at", abb.core.database.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("paid_at", abb.core.database.UTCDateTime(timezone=True), nullable=True))
        batch.create_unique_constraint(batch.f("uq_enrollments_payment_reference"), ["payment_reference"])
        batch.create_index(batch.f("ix_enrollments_hold_expires_at"), ["hold_expires_at"], unique=False)
    # The defaults were only for the rows already there (free enrollments); the models set every value.
    with op.batch_alter_table("enrollments") as batch:
        batch.alter_column("amount_minor", server_default=None)
        batch.alter_column("currency", server_default=None)
        batch.alter_column("received_minor", server_default=None)

    with op.batch_alter_table("payments") as batch:
        batch.alter_column("deal_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("enrollment_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_payments_enrollment_id_enrollments"),
            "enrollments",
            ["enrollment_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(batch.f("ix_payments_enrollment_id"), ["enrollment_id"], unique=False)
        batch.create_check_constraint(
            batch.f("ck_payments_pays_one_thing"), "(deal_id IS NULL) <> (enrollment_id IS NULL)"
        )


def downgrade() -> None:
    op.execute("DELETE FROM payments WHERE enrollment_id IS NOT NULL")
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(batch.f("ck_payments_pays_one_thing"), type_="check")
        batch.drop_index(batch.f("ix_payments_enrollment_id"))
        batch.drop_constraint(batch.f("fk_payments_enrollment_id_enrollments"), type_="foreignkey")
        batch.drop_column("enrollment_id")
        batch.alter_column("deal_id", existing_type=sa.Integer(), nullable=False)
    # Held or expired seats have no meaning without payment: a held seat becomes a cancelled one.
    op.execute("UPDATE enrollments SET status = 'cancelled' WHERE status IN ('awaiting_payment', 'expired')")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_index(batch.f("ix_enrollments_hold_expires_at"))
        batch.drop_constraint(batch.f("uq_enrollments_payment_reference"), type_="unique")
        for column in ("paid_at", "hold_expires_at", "provider", "payment_reference", "received_minor", "currency"):
            batch.drop_column(column)
        batch.drop_column("amount_minor")
