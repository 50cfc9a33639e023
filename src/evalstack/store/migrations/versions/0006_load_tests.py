"""Load tests: what `evalstack load` measured at each concurrency level, and the knee, so
the report and the viewer can draw them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "load_tests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task_name", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("model_args", sa.JSON(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("knee", sa.Integer(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("package_version", sa.String(50), nullable=False),
        sa.Column("git_revision", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_load_tests")),
    )
    op.create_index(op.f("ix_load_tests_created_at"), "load_tests", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_load_tests_created_at"), table_name="load_tests")
    op.drop_table("load_tests")
