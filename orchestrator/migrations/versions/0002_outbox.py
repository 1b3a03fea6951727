"""Outbox: notices to deliver (unique by fingerprint) and every delivery attempt.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("application", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=True),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("notify_on", sa.Date(), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("fingerprint", name="uq_notices_fingerprint"),
    )
    op.create_index("ix_notices_status", "notices", ["status", "next_attempt"])
    op.create_index("ix_notices_application", "notices", ["application"])
    op.create_table(
        "notice_attempts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("notice_id", ID, sa.ForeignKey("notices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(320), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(10), nullable=True),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_notice_attempts_notice", "notice_attempts", ["notice_id"])
    op.create_index("ix_notice_attempts_channel", "notice_attempts", ["channel", "started_at"])


def downgrade() -> None:
    op.drop_table("notice_attempts")
    op.drop_table("notices")
