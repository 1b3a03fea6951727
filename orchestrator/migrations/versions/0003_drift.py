"""Cloud drift: every finding of ``govcloud drift`` (unique by fingerprint) and every run.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "drift_findings",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("stack", sa.String(200), nullable=False),
        sa.Column("application", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("resource", sa.String(300), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("property", sa.String(200), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolution", sa.String(20), nullable=True),
        sa.Column("rule", JSON, nullable=True),
        sa.UniqueConstraint("fingerprint", name="uq_drift_findings_fingerprint"),
    )
    op.create_index("ix_drift_findings_stack", "drift_findings", ["stack", "status"])
    op.create_table(
        "drift_runs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("stack", sa.String(200), nullable=False),
        sa.Column("application", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("counts", JSON, nullable=False),
    )
    op.create_index("ix_drift_runs_stack", "drift_runs", ["stack", "outcome", "finished_at"])


def downgrade() -> None:
    op.drop_table("drift_runs")
    op.drop_table("drift_findings")
