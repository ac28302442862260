"""Events keep the detail of a failure: the traceback of a plugin's own
exception, which the one-line reason drops.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("hf_events", sa.Column("detail", sa.Text, nullable=True))


def downgrade():
    op.drop_column("hf_events", "detail")
