"""A nested stack keeps its parent resource's facade (metadata, deletion
and update policy), which ``resource_facade`` reads in the child's
template, so that every process binds the child the same way.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    # Sealed in the models: JSON, or ciphertext in JSON when encrypted.
    op.add_column("hf_stacks", sa.Column("facade", sa.JSON, nullable=True))


def downgrade():
    op.drop_column("hf_stacks", "facade")
