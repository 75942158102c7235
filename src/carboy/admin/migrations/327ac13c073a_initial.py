"""create the admin's history table

Revision 327ac13c073a, the first of the branch "admin": ``admin_log_entry``,
the history of what was added, changed and deleted, by whom. It refers to
``auth_user``, so it depends on the first migration of the branch "auth".
The constraints are named by ``carboy.db.NAMING_CONVENTION``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from carboy.db.types import UTCDateTime

revision = "327ac13c073a"
down_revision = None
branch_labels = ("admin",)
depends_on = "d13845aff82c"


def upgrade() -> None:
    op.create_table(
        "admin_log_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_time", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_repr", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("object_table", sa.String(length=128), nullable=False),
        sa.Column("object_id", sa.String(length=255), nullable=False),
        sa.Column("object_repr", sa.String(length=200), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["auth_user.id"],
            name=op.f("fk_admin_log_entry_user_id_auth_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_log_entry")),
    )
    op.create_index(op.f("ix_admin_log_entry_action_time"), "admin_log_entry", ["action_time"])
    op.create_index(op.f("ix_admin_log_entry_user_id"), "admin_log_entry", ["user_id"])
    op.create_index("ix_admin_log_entry_object", "admin_log_entry", ["object_table", "object_id"])


def downgrade() -> None:
    op.drop_table("admin_log_entry")
