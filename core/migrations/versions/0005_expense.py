"""visits and expense claims: visit source/evidence/key, claim status time and link state, approval event log

Revision ID: 0005_expense
Revises: 0004_commands
Create Date: 2026-12-04 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models

revision: str = "0005_expense"
down_revision: str | None = "0004_commands"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_DT = core.models.AwareDateTime


def upgrade() -> None:
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", _S(), nullable=False, server_default="command"))
        batch_op.add_column(sa.Column("capture_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("key", _S(), nullable=True))
        batch_op.create_unique_constraint("uq_visit_key", ["key"])
        batch_op.create_foreign_key("fk_visit_capture_id", "capture", ["capture_id"], ["id"])
    with op.batch_alter_table("expenseclaim", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_code", _S(), nullable=True))
        batch_op.add_column(sa.Column("applicant_user_id", _S(), nullable=True))
        batch_op.add_column(sa.Column("status_at", _DT(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("link_state", _S(), nullable=False, server_default="pending"))
        batch_op.add_column(sa.Column("approvers", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("form_fetched_at", _DT(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("linked_at", _DT(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("asked_at", _DT(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("created_at", _DT(timezone=True), nullable=False, server_default=sa.func.now())
        )
    op.create_table(
        "approvaleventlog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", _S(), nullable=False),
        sa.Column("event_id", _S(), nullable=False),
        sa.Column("instance_id", _S(), nullable=False),
        sa.Column("status", _S(), nullable=False),
        sa.Column("template_code", _S(), nullable=True),
        sa.Column("applicant", _S(), nullable=True),
        sa.Column("occurred_at", _DT(timezone=True), nullable=False),
        sa.Column("received_at", _DT(timezone=True), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["expenseclaim.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "event_id"),
        sa.UniqueConstraint("platform", "instance_id", "status"),
    )
    with op.batch_alter_table("approvaleventlog", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvaleventlog_instance_id"), ["instance_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approvaleventlog", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvaleventlog_instance_id"))
    op.drop_table("approvaleventlog")
    with op.batch_alter_table("expenseclaim", schema=None) as batch_op:
        for name in (
            "created_at",
            "asked_at",
            "linked_at",
            "form_fetched_at",
            "approvers",
            "link_state",
            "status_at",
            "applicant_user_id",
            "template_code",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_constraint("fk_visit_capture_id", type_="foreignkey")
        batch_op.drop_constraint("uq_visit_key", type_="unique")
        for name in ("key", "evidence", "capture_id", "source"):
            batch_op.drop_column(name)
