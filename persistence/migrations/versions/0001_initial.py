"""heatflow's first schema: stacks, templates, resources, resource data,
events.

Revision ID: 0001
Revises:
"""

from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hf_stacks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("deleted_marker", sa.String(36), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("template_id", sa.Integer, nullable=True),
        sa.Column("prev_template_id", sa.Integer, nullable=True),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("traversal", sa.String(36), nullable=False),
        sa.Column("run_token", sa.String(36), nullable=True),
        sa.Column("flow_uuid", sa.String(36), nullable=True),
        sa.Column("phase", sa.String(16), nullable=True),
        sa.Column("disable_rollback", sa.Boolean, nullable=False),
        sa.Column("timeout_mins", sa.Integer, nullable=True),
        sa.Column("deadline", sa.DateTime, nullable=True),
        sa.Column("outputs", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
        sa.Column("deleted_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("name", "deleted_marker",
                            name="uq_hf_stacks_name"),
    )
    op.create_table(
        "hf_templates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stack_id", sa.String(36), nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("environment", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_hf_templates_stack_id", "hf_templates", ["stack_id"])
    op.create_table(
        "hf_resources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stack_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("physical_resource_id", sa.String(255), nullable=True),
        sa.Column("physical_name", sa.String(255), nullable=True),
        sa.Column("reference_id", sa.String(255), nullable=True),
        sa.Column("traversal", sa.String(36), nullable=True),
        sa.Column("action_token", sa.JSON, nullable=True),
        sa.Column("template_id", sa.Integer, nullable=True),
        sa.Column("properties", sa.JSON, nullable=True),
        sa.Column("rsrc_metadata", sa.JSON, nullable=True),
        sa.Column("attributes", sa.JSON, nullable=True),
        sa.Column("requires", sa.JSON, nullable=False),
        sa.Column("replaces", sa.Integer, nullable=True),
        sa.Column("replaced_by", sa.Integer, nullable=True),
        sa.Column("lock_traversal", sa.String(36), nullable=True),
        sa.Column("lock_run", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_hf_resources_stack", "hf_resources",
                    ["stack_id", "name"])
    op.create_table(
        "hf_resource_data",
        sa.Column("resource_id", sa.Integer,
                  sa.ForeignKey("hf_resources.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("redact", sa.Boolean, nullable=False),
    )
    op.create_table(
        "hf_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stack_id", sa.String(36), nullable=False),
        sa.Column("resource_name", sa.String(255), nullable=False),
        sa.Column("physical_resource_id", sa.String(255), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_hf_events_stack_id", "hf_events", ["stack_id"])
