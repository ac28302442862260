"""The read-only views the API returns: a stack, its outputs, resources
and events, as frozen dataclasses built from the database's rows (and
the values a user must not see masked)."""

import dataclasses
import datetime
from typing import Any, Optional

from heatflow import states
from heatflow import template as template_mod

HIDDEN = "******"


@dataclasses.dataclass(frozen=True)
class Output:
    key: str
    value: Any
    description: str = ""
    error: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Stack:
    id: str
    name: str
    action: str
    status: str
    status_reason: str
    outputs: dict
    parameters: dict
    template: dict
    created_at: datetime.datetime
    updated_at: Optional[datetime.datetime]
    output_details: tuple = ()
    timeout_mins: Optional[int] = None
    disable_rollback: bool = True
    #: The environment the stack was last created or updated with (hidden
    #: parameters' values masked).
    environment: dict = dataclasses.field(default_factory=dict)
    #: A nested stack's parent stack (its id) and the parent's resource
    #: holding it; None for a top-level stack.
    parent: Optional[str] = None
    parent_resource: Optional[str] = None

    @property
    def stack_status(self):
        return states.joined(self.action, self.status)


@dataclasses.dataclass(frozen=True)
class Resource(states.ResourceStatus):
    name: str
    type: str
    physical_resource_id: Optional[str]
    action: str
    status: str
    status_reason: str
    attributes: dict
    updated_at: Optional[datetime.datetime] = None
    #: Of a FAILED resource shown on its own: the traceback of the plugin's
    #: exception, when it raised one of its own.
    status_detail: Optional[str] = None
    #: The stack it belongs to (a nested one's, listed with its parent's).
    stack_name: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Event(states.ResourceStatus):
    id: int
    time: datetime.datetime
    resource_name: str
    action: str
    status: str
    reason: str
    physical_resource_id: Optional[str] = None
    #: A failure's traceback (see Resource.status_detail).
    detail: Optional[str] = None
    #: The stack it happened in (a nested one's, listed with its parent's).
    stack_name: Optional[str] = None


def stack_view(row, tmpl_row):
    """The :class:`Stack` view of a stack row and its template row."""
    content = tmpl_row.content if tmpl_row is not None else {}
    hidden = template_mod.hidden_parameters(content)
    # What the stack runs with: the template's defaults for what was
    # not given, as Heat shows them.
    values = template_mod.parameter_defaults(content)
    values.update(row.parameters or {})
    params = {k: (HIDDEN if k in hidden else v)
              for k, v in values.items()}
    environment = tmpl_row.environment if tmpl_row is not None else {}
    details = []
    for key, out in (row.outputs or {}).items():
        details.append(Output(key=key, value=out.get("value"),
                              description=out.get("description") or "",
                              error=out.get("error")))
    return Stack(
        id=row.id, name=row.name, action=row.action, status=row.status,
        status_reason=row.status_reason or "",
        outputs={o.key: o.value for o in details},
        parameters=params, template=content, created_at=row.created_at,
        updated_at=row.updated_at, output_details=tuple(details),
        timeout_mins=row.timeout_mins,
        disable_rollback=row.disable_rollback,
        environment=_masked_environment(environment or {}, hidden),
        parent=row.owner_id, parent_resource=row.parent_resource)


def _masked_environment(environment, hidden):
    env = dict(environment)
    for section in ("parameters", "parameter_defaults"):
        if env.get(section):
            env[section] = {k: (HIDDEN if k in hidden else v)
                            for k, v in env[section].items()}
    return env
