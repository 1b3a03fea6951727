"""Indexes for the portal's lists: applications by state in id order (``GET /api/v1/applications?state=``
and its count), and by due date then id (the work queues, earliest due first, nulls last).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_applications_state", "applications", ["state", "application"])
    op.drop_index("ix_applications_next_due", "applications")
    op.create_index("ix_applications_due_order", "applications", ["next_due", "application"])


def downgrade() -> None:
    op.drop_index("ix_applications_due_order", "applications")
    op.create_index("ix_applications_next_due", "applications", ["next_due"])
    op.drop_index("ix_applications_state", "applications")
