"""Judge usage per sample: the tokens and cost of the judges that scored it, so a run's
totals show model and judge side by side.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.add_column(sa.Column("judge_input_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("judge_output_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("judge_cost_usd", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.drop_column("judge_cost_usd")
        batch.drop_column("judge_output_tokens")
        batch.drop_column("judge_input_tokens")
