"""heatflow's tables (SQLAlchemy Core).

TaskFlow keeps its own tables (logbooks, flowdetails, atomdetails) in the
same database; these hold what users see and what the convergence algorithm
decides on:

stacks      one row per stack; ``traversal`` is the fencing token: every write
            made on behalf of an operation names it, and a new operation
            replaces it, so writes of a superseded operation match no row.
templates   immutable template snapshots (a stack points at its target and at
            its last known-good one).
resources   one row per *incarnation* of a resource: a replacement gets a new
            row, linked through ``replaces``/``replaced_by``, so the original
            can be kept for rollback and cleaned up later.
resource_data   a plugin's ``data_set`` values.
events      every state transition, in order.
software_configs    Heat's software configs (persistence/software_configs.py):
            immutable, owned by a project, not by a stack.

Columns typed :class:`Sealed` hold users' and plugins' values: with an
encryption key configured they are stored encrypted (``sealing.py``).
"""

import sqlalchemy as sa

from heatflow.persistence.sealing import Sealed

metadata = sa.MetaData()

# Timestamps are naive UTC throughout (SQLite has no time zones).
stacks = sa.Table(
    "hf_stacks", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    # '' while the stack lives, its id once deleted: names are unique among
    # live stacks but a deleted stack's name can be reused.
    sa.Column("deleted_marker", sa.String(36), nullable=False, default=""),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=False, default=""),
    sa.Column("template_id", sa.Integer, nullable=True),
    sa.Column("prev_template_id", sa.Integer, nullable=True),
    sa.Column("parameters", Sealed(), nullable=False, default=dict),
    sa.Column("traversal", sa.String(36), nullable=False),
    # The run executing the operation now: replaced when it is resumed or
    # taken over, so that the old run's writes are rejected.
    sa.Column("run_token", sa.String(36), nullable=True),
    sa.Column("flow_uuid", sa.String(36), nullable=True),
    # "converge" until every resource of the target has converged, then
    # "cleanup": from then on the operation can no longer be reverted.
    sa.Column("phase", sa.String(16), nullable=True),
    sa.Column("disable_rollback", sa.Boolean, nullable=False, default=True),
    sa.Column("timeout_mins", sa.Integer, nullable=True),
    # Absolute, so that it survives the death of whoever runs the operation.
    sa.Column("deadline", sa.DateTime, nullable=True),
    sa.Column("outputs", Sealed(), nullable=True),
    # The project of the context that created the stack (OS::project_id)
    # and the request context of its latest operation, sealed
    # (heatflow/context.py: the token only when encrypted).
    sa.Column("project_id", sa.String(255), nullable=True),
    sa.Column("context", Sealed(), nullable=True),
    # A nested stack's owner (the parent stack), the parent's resource that
    # holds it, and its depth in the tree (0: a top-level stack).  Only
    # its parent's operations act on a child (heatflow/stack_resource.py).
    sa.Column("owner_id", sa.String(36), nullable=True, index=True),
    sa.Column("parent_resource", sa.String(255), nullable=True),
    sa.Column("nested_depth", sa.Integer, nullable=False, default=0,
              server_default="0"),
    # What the child's resource_facade reads: its parent resource's
    # metadata, deletion_policy and update_policy.
    sa.Column("facade", Sealed(), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.Column("deleted_at", sa.DateTime, nullable=True),
    sa.UniqueConstraint("name", "deleted_marker", name="uq_hf_stacks_name"),
)

templates = sa.Table(
    "hf_templates", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stack_id", sa.String(36), nullable=False, index=True),
    sa.Column("content", Sealed(), nullable=False),
    sa.Column("files", Sealed(), nullable=False, default=dict),
    # What binds the template into a stack definition besides itself: the
    # parameter values (and later the environment).
    sa.Column("environment", Sealed(), nullable=False, default=dict),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

resources = sa.Table(
    "hf_resources", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stack_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=False, default=""),
    sa.Column("physical_resource_id", sa.String(255), nullable=True),
    sa.Column("physical_name", sa.String(255), nullable=True),
    # What get_resource returns, recorded when the action completed.
    sa.Column("reference_id", sa.String(255), nullable=True),
    # The traversal that last acted on this incarnation (created it, or
    # last held its lock).
    sa.Column("traversal", sa.String(36), nullable=True),
    # check_<action>_complete's token, when it serialises, so that an action
    # resumed in another process polls instead of starting again.
    sa.Column("action_token", Sealed(), nullable=True),
    # The template this incarnation was last converged to (Heat's
    # current_template_id); None until its first action completes.
    sa.Column("template_id", sa.Integer, nullable=True),
    # The resolved properties last applied: what an update diffs against and
    # what a delete hands the plugin.
    sa.Column("properties", Sealed(), nullable=True),
    sa.Column("rsrc_metadata", Sealed(), nullable=True),
    # Attribute values computed for dependents when the action completed.
    sa.Column("attributes", Sealed(), nullable=True),
    # What an update in place changes (properties, metadata, template_id,
    # attributes, reference_id), written as it takes the lock, before the
    # plugin acts: what its rollback restores, even when the update's
    # TaskFlow result was lost with its process.
    sa.Column("before_image", Sealed(), nullable=True),
    sa.Column("requires", sa.JSON, nullable=False, default=list),
    sa.Column("replaces", sa.Integer, nullable=True),
    sa.Column("replaced_by", sa.Integer, nullable=True),
    # The traversal whose action is in flight on this row (Heat's engine_id
    # lock); NULL when idle.  Taken and released by compare-and-swap.
    sa.Column("lock_traversal", sa.String(36), nullable=True),
    sa.Column("lock_run", sa.String(36), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.Index("ix_hf_resources_stack", "stack_id", "name"),
)

resource_data = sa.Table(
    "hf_resource_data", metadata,
    # Goes with its resource row (ON DELETE CASCADE: no extra statement).
    sa.Column("resource_id", sa.Integer,
              sa.ForeignKey("hf_resources.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", Sealed(), nullable=True),
    sa.Column("redact", sa.Boolean, nullable=False, default=False),
)

events = sa.Table(
    "hf_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stack_id", sa.String(36), nullable=False, index=True),
    # '' for events about the stack itself.
    sa.Column("resource_name", sa.String(255), nullable=False),
    sa.Column("physical_resource_id", sa.String(255), nullable=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # A failure's detail: the traceback of a plugin's own exception.
    sa.Column("detail", sa.Text, nullable=True),
)

software_configs = sa.Table(
    "hf_software_configs", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # The owner's project (None: made without a request context).
    sa.Column("project", sa.String(255), nullable=True, index=True),
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("group", sa.String(255), nullable=False),
    # {"config", "inputs", "outputs", "options"}: may hold secrets.
    sa.Column("config", Sealed(), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
