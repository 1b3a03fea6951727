"""Ledger: events, the per-application projection, leases.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("application", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("actor_unit", sa.String(64), nullable=True),
        sa.Column("actor_source", sa.String(20), nullable=False),
        sa.Column("stated_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("digest", sa.String(80), nullable=True),
        sa.Column("environment", sa.String(20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.UniqueConstraint("application", "sequence", name="uq_events_application_sequence"),
    )
    op.create_table(
        "applications",
        sa.Column("application", sa.String(64), primary_key=True),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("snapshot", JSON, nullable=False),
    )
    op.create_index("ix_applications_next_due", "applications", ["next_due"])
    op.create_index("ix_applications_unit", "applications", ["unit"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_applications_unit", "applications")
    op.drop_index("ix_applications_next_due", "applications")
    op.drop_table("applications")
    op.drop_table("events")
