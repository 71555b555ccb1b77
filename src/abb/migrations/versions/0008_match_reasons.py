"""matching: each match's reasons as facts (factor key and parameters), worded in the reader's language when shown

Revision ID: 0008_match_reasons
Revises: 0007_web
Create Date: 2026-12-02 21:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_match_reasons"
down_revision = "0007_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: matches stored before keep showing their stored English text until they are next rescored.
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("reasons", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("reasons")
