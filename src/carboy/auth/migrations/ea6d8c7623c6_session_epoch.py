"""add the users' session epoch

Revision ea6d8c7623c6, after d13845aff82c on the branch "auth":
``auth_user.session_epoch``, which a logout or a password change moves on to
end every session of the user. Existing users start at 0, the epoch under
which their sessions were signed in, so that nobody is signed out by the
migration itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ea6d8c7623c6"
down_revision = "d13845aff82c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "auth_user",
        sa.Column("session_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    # SQLite 3.35 and later drop a column in place; a batch copy of auth_user
    # would drop the table that the other auth tables refer to.
    op.drop_column("auth_user", "session_epoch")
