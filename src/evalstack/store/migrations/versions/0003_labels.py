"""Human labels: ratings of one sample, and blind pairwise preferences between two runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("sample_id", sa.Text(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("other_run_id", sa.String(32), nullable=True),
        sa.Column("preference", sa.String(8), nullable=True),
        sa.Column("thumbs", sa.Integer(), nullable=True),
        sa.Column("ratings", sa.JSON(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("labeller", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_labels_run_id_runs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_run_id"], ["runs.id"],
                                name=op.f("fk_labels_other_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
    )
    op.create_index("ix_labels_run_id_sample_id_epoch", "labels",
                    ["run_id", "sample_id", "epoch"])


def downgrade() -> None:
    op.drop_index("ix_labels_run_id_sample_id_epoch", table_name="labels")
    op.drop_table("labels")
