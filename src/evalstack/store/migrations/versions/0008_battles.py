"""Pairwise battles (the arena): blind votes, judged pairs and imported battle logs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "battles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("arena", sa.String(128), nullable=False),
        sa.Column("prompt_id", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("model_a", sa.Text(), nullable=False),
        sa.Column("model_b", sa.Text(), nullable=False),
        sa.Column("run_a", sa.String(32), nullable=True),
        sa.Column("run_b", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(8), nullable=True),
        sa.Column("flag", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(16), nullable=False),
        sa.Column("labeller", sa.Text(), nullable=True),
        sa.Column("judge", sa.Text(), nullable=True),
        sa.Column("judge_version", sa.Text(), nullable=True),
        sa.Column("template_hash", sa.String(64), nullable=True),
        sa.Column("consistent", sa.Boolean(), nullable=True),
        sa.Column("len_a", sa.Integer(), nullable=True),
        sa.Column("len_b", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("key", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_a"], ["runs.id"], name=op.f("fk_battles_run_a_runs"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["run_b"], ["runs.id"], name=op.f("fk_battles_run_b_runs"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_battles")),
        sa.UniqueConstraint("key", name=op.f("uq_battles_key")),
    )
    op.create_index(op.f("ix_battles_arena_prompt_id"), "battles", ["arena", "prompt_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_battles_arena_prompt_id"), table_name="battles")
    op.drop_table("battles")
