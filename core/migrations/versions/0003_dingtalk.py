"""inbound_seen: keys of handled platform events (DingTalk eventId / msgId deduplication)

Revision ID: 0003_dingtalk
Revises: 0002_guard
Create Date: 2026-12-04 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models

revision: str = "0003_dingtalk"
down_revision: str | None = "0002_guard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inboundseen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seen_at", core.models.AwareDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "key"),
    )
    with op.batch_alter_table("inboundseen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inboundseen_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inboundseen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inboundseen_seen_at"))
    op.drop_table("inboundseen")
