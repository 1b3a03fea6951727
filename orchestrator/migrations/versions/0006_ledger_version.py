"""The ledger's version: one row whose token every write to the events or the projection replaces
(in the same transaction), so a reader can tell in one cheap query whether anything it read before
may have changed (the portal keeps its reads while the token stays the same).

Revision ID: 0006
Revises: 0005
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "ledger_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(32), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "token": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("ledger_version")
