"""Nested stacks: a child stack's row names the stack that owns it and the
resource of that stack holding it, and how deep in its tree it sits (so
that the depth limit is one read, not a walk up the tree).

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("hf_stacks",
                  sa.Column("owner_id", sa.String(36), nullable=True))
    op.add_column("hf_stacks",
                  sa.Column("parent_resource", sa.String(255),
                            nullable=True))
    op.add_column("hf_stacks",
                  sa.Column("nested_depth", sa.Integer, nullable=False,
                            server_default="0"))
    op.create_index("ix_hf_stacks_owner_id", "hf_stacks", ["owner_id"])


def downgrade():
    op.drop_index("ix_hf_stacks_owner_id", "hf_stacks")
    op.drop_column("hf_stacks", "nested_depth")
    op.drop_column("hf_stacks", "parent_resource")
    op.drop_column("hf_stacks", "owner_id")
