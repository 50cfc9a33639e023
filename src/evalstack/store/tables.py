"""The store's tables, as SQLAlchemy Core metadata.

Alembic migrations in ``store/migrations/versions/`` create and change these tables; a test
checks that the migrations' head matches this metadata exactly. Each later concept (human
labels, pairwise battles, traces, alerts) adds its own tables here and its own migration.

Timestamps are UTC. JSON columns use the portable ``JSON`` type (``json`` on PostgreSQL,
text on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa

# Alembic's version table; named after us so a shared PostgreSQL database can hold other
# applications' Alembic histories too.
VERSION_TABLE = "evalstack_alembic_version"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("task_name", sa.Text, nullable=False),
    sa.Column("task_version", sa.Integer, nullable=False),
    sa.Column("task_spec", sa.JSON, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("model_args", sa.JSON, nullable=False),
    sa.Column("dataset_name", sa.Text, nullable=False),
    sa.Column("dataset_hash", sa.String(64), nullable=False),
    sa.Column("dataset_size", sa.Integer, nullable=False),
    sa.Column("epochs", sa.Integer, nullable=False),
    sa.Column("limit", sa.Integer, nullable=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("package_version", sa.String(50), nullable=False),
    sa.Column("git_revision", sa.String(64), nullable=True),
    sa.Column("summary", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index(None, "fingerprint"),
    sa.Index(None, "created_at"),
    sa.Index(None, "task_name"),
    sa.Index(None, "model"),
)

samples = sa.Table(
    "samples",
    metadata,
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("sample_id", sa.Text, nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("input", sa.JSON, nullable=False),
    sa.Column("target", sa.JSON, nullable=False),
    sa.Column("output", sa.Text, nullable=False),
    sa.Column("scores", sa.JSON, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("output_truncated", sa.Boolean, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("input_tokens", sa.Integer, nullable=True),
    sa.Column("output_tokens", sa.Integer, nullable=True),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("category", sa.Text, nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("model_version", sa.Text, nullable=True),
    sa.Column("choices", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("judge_input_tokens", sa.Integer, nullable=True),
    sa.Column("judge_output_tokens", sa.Integer, nullable=True),
    sa.Column("judge_cost_usd", sa.Float, nullable=True),
    sa.PrimaryKeyConstraint("run_id", "sample_id", "epoch"),
)

response_cache = sa.Table(
    "response_cache",
    metadata,
    # sha256 hex of the request and the provider's identity.
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Named, pinned runs ("prod", "release-1.4"): what CI gates compare new runs against. A run
# that a baseline points at cannot be deleted until the baseline is removed or moved.
baselines = sa.Table(
    "baselines",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="RESTRICT"), nullable=False
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
)

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("sample_id", sa.Text, nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("other_run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
              nullable=True),
    sa.Column("preference", sa.String(8), nullable=True),
    sa.Column("thumbs", sa.Integer, nullable=True),
    sa.Column("ratings", sa.JSON, nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("labeller", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_labels_run_id_sample_id_epoch", "run_id", "sample_id", "epoch"),
)

# Who is writing a run right now. Keyed by the run's fingerprint, not its id, so that two
# processes started at once with the same settings contend for one lease before either has
# made a run; the holder renews ``expires_at`` while it works and deletes the row when done.
run_leases = sa.Table(
    "run_leases",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("command", sa.Text, nullable=True),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

# One `evalstack load` test: its target, task and settings, every level's summary (the
# numbers `load --json` prints, each with its interval and n) and the knee. The levels' own
# runs are not stored; only what was measured of them.
load_tests = sa.Table(
    "load_tests",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("task_name", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("model_args", sa.JSON, nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("knee", sa.Integer, nullable=True),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("levels", sa.JSON, nullable=False),
    sa.Column("package_version", sa.String(50), nullable=False),
    sa.Column("git_revision", sa.String(64), nullable=True),
    sa.Index(None, "created_at"),
)

# --- production (evalstack serve): projects, traces, spans, feedback, online scores, alerts ---

# A project owns its traces. Its ingest key is stored only as a SHA-256 digest (the key is a
# random 256-bit token, so a fast hash is enough; it is shown once, when made).
projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# One trace: what the app did for one request. The GenAI facts are summed or taken from its
# spans (the model, tokens, first input and last output messages); what is not understood
# stays in the spans' attributes.
traces = sa.Table(
    "traces",
    metadata,
    sa.Column("project_id", sa.String(32), nullable=False),
    sa.Column("trace_id", sa.String(32), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("conversation_id", sa.Text, nullable=True),
    sa.Column("user_id", sa.Text, nullable=True),
    sa.Column("model", sa.Text, nullable=True),
    sa.Column("input_tokens", sa.Integer, nullable=True),
    sa.Column("output_tokens", sa.Integer, nullable=True),
    sa.Column("cost_usd", sa.Float, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("input", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("output", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.PrimaryKeyConstraint("project_id", "trace_id"),
    sa.Index(None, "project_id", "started_at"),
    sa.Index(None, "project_id", "conversation_id"),
    sa.Index(None, "project_id", "user_id"),
)

spans = sa.Table(
    "spans",
    metadata,
    sa.Column("project_id", sa.String(32), nullable=False),
    sa.Column("trace_id", sa.String(32), nullable=False),
    sa.Column("span_id", sa.String(16), nullable=False),
    sa.Column("parent_span_id", sa.String(16), nullable=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=True),
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("service", sa.Text, nullable=True),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("genai", sa.JSON, nullable=False),
    sa.PrimaryKeyConstraint("project_id", "trace_id", "span_id"),
)

# A conversation: its traces' span in time and count (its length in turns), and its user.
conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("project_id", sa.String(32), nullable=False),
    sa.Column("conversation_id", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text, nullable=True),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("turns", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("project_id", "conversation_id"),
    sa.Index(None, "project_id", "first_seen"),
    sa.Index(None, "project_id", "user_id"),
)

# Outcome events and feedback the app sends (thumbs, resolved, escalated, custom names).
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project_id", sa.String(32), nullable=False),
    sa.Column("trace_id", sa.String(32), nullable=True),
    sa.Column("conversation_id", sa.Text, nullable=True),
    sa.Column("user_id", sa.Text, nullable=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("label", sa.Text, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Index(None, "project_id", "name", "at"),
    sa.Index(None, "project_id", "trace_id"),
)

# An evalstack scorer's score on a trace (sampled online scoring); one per trace and metric.
online_scores = sa.Table(
    "online_scores",
    metadata,
    sa.Column("project_id", sa.String(32), nullable=False),
    sa.Column("trace_id", sa.String(32), nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("cost_usd", sa.Float, nullable=True),
    sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.PrimaryKeyConstraint("project_id", "trace_id", "metric"),
    sa.Index(None, "project_id", "scored_at"),
)

# A fired alert: one row per rule and episode (deduplicated), with its delivery state.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project_id", sa.String(32), nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("episode_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.UniqueConstraint("project_id", "rule", "episode_start"),
    sa.Index(None, "project_id", "fired_at"),
)

# A pairwise battle: two contestants answered one prompt and someone decided which was
# better. ``outcome`` is "a", "b", "tie" or "bad" (both bad); a battle that could not be
# decided (a judge failing in both orders, a vote on a missing answer) is kept with
# ``outcome`` NULL and the reason in ``flag``, so nothing is dropped silently. ``key`` makes
# judged and imported battles idempotent (a rerun or a re-import adds nothing); human votes
# have none, since one person may vote twice.
battles = sa.Table(
    "battles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("arena", sa.String(128), nullable=False),
    sa.Column("prompt_id", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=True),
    sa.Column("turn", sa.Integer, nullable=False),
    sa.Column("model_a", sa.Text, nullable=False),
    sa.Column("model_b", sa.Text, nullable=False),
    sa.Column("run_a", sa.String(32), sa.ForeignKey("runs.id", ondelete="SET NULL"),
              nullable=True),
    sa.Column("run_b", sa.String(32), sa.ForeignKey("runs.id", ondelete="SET NULL"),
              nullable=True),
    sa.Column("outcome", sa.String(8), nullable=True),
    sa.Column("flag", sa.Text, nullable=True),
    sa.Column("decided_by", sa.String(16), nullable=False),
    sa.Column("labeller", sa.Text, nullable=True),
    sa.Column("judge", sa.Text, nullable=True),
    sa.Column("judge_version", sa.Text, nullable=True),
    sa.Column("template_hash", sa.String(64), nullable=True),
    sa.Column("consistent", sa.Boolean, nullable=True),
    sa.Column("len_a", sa.Integer, nullable=True),
    sa.Column("len_b", sa.Integer, nullable=True),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("key", sa.String(64), nullable=True, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index(None, "arena", "prompt_id"),
)
