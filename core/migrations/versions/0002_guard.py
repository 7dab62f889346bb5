"""guard: level clocks, one first application per policy and deal, who published a policy

Revision ID: 0002_guard
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.models

revision: str = "0002_guard"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level_since", core.models.AwareDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("level_entered_at", core.models.AwareDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_by_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("policyapplication", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_policyapplication_policy_deal", ["policy_id", "opportunity_id"])
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index("ix_alert_subject", ["subject_type", "subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_subject")
    with op.batch_alter_table("policyapplication", schema=None) as batch_op:
        batch_op.drop_constraint("uq_policyapplication_policy_deal", type_="unique")
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.drop_column("published_by_id")
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.drop_column("level_entered_at")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("level_since")
