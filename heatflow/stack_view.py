"""``self.stack`` for plugins: a read-only view of the stack a resource
belongs to, as much of Heat's ``Stack`` as a plugin usually reads.

Built from what the engine already has when it constructs a plugin: the
operation's stack name and id, the bound stack definition (template,
parameters, environment), the reference ids and attributes of the
resources this one depends on.  Anything else (another resource's
recorded state, the stack's timeout) is read from the database on first
access only, once per view: constructing a plugin costs no query.

A resource seen through ``stack[name]`` is what the engine knows of it:
its reference id and the attributes recorded for it (or handed to this
resource as inputs), never a live plugin.
"""

import copy
import math

from heatflow import states


class StackView:
    """What a plugin sees as ``self.stack`` (read-only).

    ``definition``: the bound StackDefinition, or a zero-argument callable
    giving it (None: not known).  ``refs``/``attrs``: reference ids and
    ``(resource, attribute) -> value`` the engine resolved for this
    resource's inputs.  ``rows``/``stack_row``: zero-argument callables
    reading the stack's resource rows and its row (None: no database, as
    in a dry run of a new stack or a plugin's unit test)."""

    #: Heat's flag: validate property values strictly.
    strict_validate = True

    def __init__(self, name, stack_id, *, definition=None, refs=None,
                 attrs=None, rows=None, stack_row=None, software_configs=None,
                 context=None, timeout_mins=None, child_stacks=None,
                 resource_data=None):
        self.name = name
        self.id = stack_id
        #: Where plugins' software configs go (heatflow.rpc_client): the
        #: stack's database; None without one.
        self.software_configs = software_configs
        #: Where a nested stack resource starts its child's operations
        #: (heatflow.child_stacks); None outside a running operation.
        self.child_stacks = child_stacks
        # The request context (heatflow.context), or a callable reading it.
        self._context = context
        self._definition = definition
        self._refs = refs or {}
        self._attrs = attrs
        self._rows_of = rows
        self._stack_row_of = stack_row
        # resource_data(row id): a row's plugin data, read afresh.
        self._data_of = resource_data
        self._timeout_mins = timeout_mins     # known before there is a row
        self._cache = {}
        # Construction arguments for a plugin with Heat's constructor
        # (see heatflow.plugin_factory.make_plugin); None on a shared view.
        self._init_args = None

    def constructing(self, args):
        """This view, carrying the construction arguments of a plugin with
        Heat's constructor (it shares what was read lazily)."""
        view = copy.copy(self)
        view._init_args = args
        return view

    def _lazy(self, key, read):
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    # -- the stack's own -------------------------------------------------

    @property
    def context(self):
        """The operation's request context (heatflow.context), or None."""
        if callable(self._context):
            self._context = self._lazy("context", self._context)
        return self._context

    @property
    def definition(self):
        if callable(self._definition):
            self._definition = self._lazy("definition", self._definition)
        return self._definition

    @property
    def t(self):
        """The template (``files`` among others), or None."""
        return getattr(self.definition, "template", None)

    @property
    def parameters(self):
        return dict(getattr(self.definition, "parameters", None) or {})

    @property
    def env(self):
        """The stack's Environment, where the engine bound the definition
        from the stored one (None otherwise)."""
        return getattr(self.definition, "environment", None)

    @property
    def timeout_mins(self):
        if self._timeout_mins is not None:
            return self._timeout_mins
        if self._stack_row_of is None:
            return None
        row = self._lazy("stack", self._stack_row_of)
        return getattr(row, "timeout_mins", None)

    def timeout_secs(self):
        """The stack's timeout in seconds; infinity when it has none (Heat
        falls back to its configured default; heatflow has none, and a
        plugin compares with it, as OS::Heat::Delay does)."""
        mins = self.timeout_mins
        return math.inf if mins is None else 60 * mins

    # -- its resources ---------------------------------------------------

    def _names(self):
        d = self.definition
        if d is not None:
            return list(d.resources)
        return sorted({r.name for r in self._rows()})

    def _rows(self):
        if self._rows_of is None:
            return []
        return self._lazy("rows", self._rows_of)

    def _row(self, name):
        """The incarnation the stack has of ``name`` now: of the rows
        not being deleted, one not replaced, else the newest.  (Simpler
        than the engine's choice, which it cannot import from this
        layer; the two differ only while a replacement is under way.)"""
        rows = [r for r in self._rows()
                if r.name == name and r.action != states.DELETE]
        if not rows:
            return None
        return max(rows, key=lambda r: (r.replaced_by is None, r.id))

    def __contains__(self, name):
        return name in self._names()

    def __getitem__(self, name):
        if name not in self:
            raise KeyError(name)
        return ResourceView(self, name)

    def __iter__(self):
        return iter(self._names())

    def __len__(self):
        return len(self._names())

    def resource_by_refid(self, refid):
        """The resource whose reference id is ``refid``, or None."""
        for name in self._names():
            view = ResourceView(self, name)
            if view.FnGetRefId() == refid:
                return view
        return None

    def __repr__(self):
        return "<StackView %s (%s)>" % (self.name, self.id)


class ResourceView:
    """Another resource, as far as the engine knows it (read-only)."""

    def __init__(self, stack, name):
        self.stack = stack
        self.name = name

    @property
    def _row(self):
        return self.stack._row(self.name)

    @property
    def type(self):
        d = self.stack.definition
        if d is not None and self.name in d.resources:
            return d.resources[self.name].type
        row = self._row
        return row.type if row is not None else None

    def _recorded(self, field, default=None):
        row = self._row
        return getattr(row, field) if row is not None else default

    resource_id = property(
        lambda self: self._recorded("physical_resource_id"),
        doc="Its physical id, as recorded.")
    action = property(lambda self: self._recorded("action", states.INIT))
    status = property(lambda self: self._recorded("status",
                                                  states.COMPLETE))

    def FnGetRefId(self):
        """Its reference id: as handed to this resource, else as
        recorded; its name when it has none yet (Heat's default)."""
        if self.name in self.stack._refs:
            return self.stack._refs[self.name]
        row = self._row
        if row is not None and row.reference_id is not None:
            return row.reference_id
        return self.name

    get_reference_id = FnGetRefId

    def FnGetAtt(self, name, *path):
        """An attribute as handed to this resource, else as recorded
        (None when nothing read it before)."""
        value = None
        if self.stack._attrs is not None and self.name in self.stack._refs:
            value = self.stack._attrs(self.name, name)
        if value is None:
            row = self._row
            recorded = (row.attributes or {}) if row is not None else {}
            value = recorded.get("*" if name is None else name)
        for key in path:
            value = value[key] if value is not None else None
        return value

    get_attribute = FnGetAtt

    def data(self):
        """Its plugin data as recorded now, read afresh at each call (a
        signal may have just added to it); {} when there is none."""
        row = self._row
        if row is None or self.stack._data_of is None:
            return {}
        return self.stack._data_of(row.id)

    def __repr__(self):
        return "<ResourceView %s>" % self.name


def for_atom(atom):
    """The view for a plugin an atom constructs: the operation's stack,
    its definition, the inputs the atom resolved (``atom.known_inputs``,
    ``(refs, get_attr)``, if it did), and the database read lazily."""
    op = atom.op
    refs, get_attr = getattr(atom, "known_inputs", None) or ({}, None)
    return StackView(
        op.stack_name, op.stack_id, definition=atom.definition,
        refs=refs, attrs=get_attr,
        rows=lambda: atom.store.list_resources(op.stack_id),
        stack_row=lambda: atom.store.get_stack_by_id(op.stack_id),
        software_configs=atom.store, resource_data=atom.store.resource_data,
        child_stacks=atom.rt.child_stacks,
        context=lambda: atom.rt.context_of(
            op.stack_id, op.traversal,
            lambda: atom.store.get_stack_by_id(op.stack_id)))
