"""deals, their history, payments, handled webhook events, idempotency keys

Revision ID: 0004
Revises: 0001
Depends on: 0002 (deals belong to a match)
Create Date: 2026-11-27 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import abb.core.database

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = "0002"

CURRENCIES = ("EUR", "USD", "KES", "TZS", "ETB")
DEAL_STATES = ("draft", "awaiting_payment", "paid", "settled", "cancelled", "failed", "refunded")
PROVIDERS = ("bank_transfer", "stripe_card")


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def _utc(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, abb.core.database.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        _utc("created_at"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_idempotency_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id_key"),
    )
    op.create_table(
        "deals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("sme_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", _enum("currency", CURRENCIES), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("state", _enum("dealstate", DEAL_STATES), nullable=False),
        sa.Column("payment_reference", sa.String(length=25), nullable=False),
        sa.Column("provider", _enum("providername", PROVIDERS), nullable=True),
        sa.Column("received_minor", sa.BigInteger(), nullable=False),
        sa.Column("excess_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        _utc("created_at"),
        _utc("updated_at"),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_deals_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_deals_match_id_matches"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner_profiles.id"],
            name=op.f("fk_deals_partner_id_partner_profiles"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["sme_id"], ["sme_profiles.id"], name=op.f("fk_deals_sme_id_sme_profiles"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
        sa.UniqueConstraint("payment_reference", name=op.f("uq_deals_payment_reference")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        for column in ("match_id", "partner_id", "sme_id", "state"):
            batch_op.create_index(batch_op.f(f"ix_deals_{column}"), [column], unique=False)

    op.create_table(
        "deal_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("from_state", _enum("dealstate", DEAL_STATES), nullable=True),
        sa.Column("to_state", _enum("dealstate", DEAL_STATES), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=160), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        _utc("created_at"),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_deal_events_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_deal_events_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_events")),
    )
    with op.batch_alter_table("deal_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deal_events_deal_id"), ["deal_id"], unique=False)

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("provider", _enum("providername", PROVIDERS), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", _enum("currency", CURRENCIES), nullable=False),
        sa.Column("status", _enum("paymentstatus", ("pending", "succeeded", "failed")), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        _utc("created_at"),
        _utc("updated_at"),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name=op.f("fk_payments_deal_id_deals"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_payments_recorded_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("provider", "external_id", name="uq_payments_provider_external_id"),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_deal_id"), ["deal_id"], unique=False)

    op.create_table(
        "payment_webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", _enum("providername", PROVIDERS), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        _utc("received_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_webhook_events")),
        sa.UniqueConstraint("provider", "event_id", name="uq_payment_webhook_events_provider_event_id"),
    )


def downgrade() -> None:
    op.drop_table("payment_webhook_events")
    op.drop_table("payments")
    op.drop_table("deal_events")
    op.drop_table("deals")
    op.drop_table("idempotency_keys")
