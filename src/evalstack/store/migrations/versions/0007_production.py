"""Production traces (evalstack serve): projects with hashed ingest keys, traces, their spans,
conversations, feedback and outcome events, online scores, and fired alerts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("episode_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint(
            "project_id",
            "rule",
            "episode_start",
            name=op.f("uq_alerts_project_id_rule_episode_start"),
        ),
    )
    op.create_index(
        op.f("ix_alerts_project_id_fired_at"), "alerts", ["project_id", "fired_at"], unique=False
    )
    op.create_table(
        "conversations",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "conversation_id", name=op.f("pk_conversations")),
    )
    op.create_index(
        op.f("ix_conversations_project_id_first_seen"),
        "conversations",
        ["project_id", "first_seen"],
        unique=False,
    )
    op.create_index(
        op.f("ix_conversations_project_id_user_id"),
        "conversations",
        ["project_id", "user_id"],
        unique=False,
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("conversation_id", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(
        op.f("ix_feedback_project_id_name_at"),
        "feedback",
        ["project_id", "name", "at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_feedback_project_id_trace_id"),
        "feedback",
        ["project_id", "trace_id"],
        unique=False,
    )
    op.create_table(
        "online_scores",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "trace_id", "metric", name=op.f("pk_online_scores")),
    )
    op.create_index(
        op.f("ix_online_scores_project_id_scored_at"),
        "online_scores",
        ["project_id", "scored_at"],
        unique=False,
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_projects_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "spans",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("service", sa.Text(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("genai", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "trace_id", "span_id", name=op.f("pk_spans")),
    )
    op.create_table(
        "traces",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("input", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("output", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "trace_id", name=op.f("pk_traces")),
    )
    op.create_index(
        op.f("ix_traces_project_id_conversation_id"),
        "traces",
        ["project_id", "conversation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_traces_project_id_started_at"),
        "traces",
        ["project_id", "started_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_traces_project_id_user_id"), "traces", ["project_id", "user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_traces_project_id_user_id"), table_name="traces")
    op.drop_index(op.f("ix_traces_project_id_started_at"), table_name="traces")
    op.drop_index(op.f("ix_traces_project_id_conversation_id"), table_name="traces")
    op.drop_table("traces")
    op.drop_table("spans")
    op.drop_table("projects")
    op.drop_index(op.f("ix_online_scores_project_id_scored_at"), table_name="online_scores")
    op.drop_table("online_scores")
    op.drop_index(op.f("ix_feedback_project_id_trace_id"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_project_id_name_at"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_conversations_project_id_user_id"), table_name="conversations")
    op.drop_index(op.f("ix_conversations_project_id_first_seen"), table_name="conversations")
    op.drop_table("conversations")
    op.drop_index(op.f("ix_alerts_project_id_fired_at"), table_name="alerts")
    op.drop_table("alerts")
