"""Software configs: what OS::Heat::SoftwareConfig and its kin store
through ``rpc_client().create_software_config`` (Heat keeps them in its
database, outside any stack); and a stack's project and request context
(heatflow/context.py).

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hf_software_configs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project", sa.String(255), nullable=True, index=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("group", sa.String(255), nullable=False),
        # Sealed in the models: JSON, or ciphertext in JSON when encrypted.
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.add_column("hf_stacks",
                  sa.Column("project_id", sa.String(255), nullable=True))
    op.add_column("hf_stacks", sa.Column("context", sa.JSON, nullable=True))


def downgrade():
    op.drop_column("hf_stacks", "context")
    op.drop_column("hf_stacks", "project_id")
    op.drop_table("hf_software_configs")
