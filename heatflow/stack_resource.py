"""A resource that is a whole stack: the base of template resources,
``OS::Heat::Stack`` and the group resources (Heat's ``StackResource``).

The child is a real stack (its own rows, traversal, events and job), owned
by the parent stack and its resource, and created, updated, deleted,
suspended, resumed and checked only by the parent's actions on that
resource.  Each action starts the child's operation and polls the child's
row until that operation settles, so:

- the child runs as its own operation, on whichever conductor claims it
  (a large group spreads over the cluster), or on this process's pool;
- a parent action resumed after a crash polls the child's operation it
  started (its token is the child's traversal) instead of starting another;
- the parent's deadline bounds its action: on a timeout the child's
  operation is cancelled (``handle_<action>_cancel``, as in Heat);
- a parent update that supersedes a running one updates the child, which
  supersedes the child's running operation in turn;
- the parent's rollback reverts the resource as any other: the child is
  updated back to its previous template, or deleted.

Children never roll themselves back (their parent does: Heat's rule).
What the engine does for a child is in :mod:`heatflow.child_stacks`.
"""

import time

from heatflow import exception
from heatflow import resource
from heatflow import states


class StackResource(resource.Resource):
    """Subclasses give the child's template and parameters:
    :meth:`child_template` (a HOT template as a dict) and
    :meth:`child_params`."""

    def child_template(self):
        """The child stack's template, a dict."""
        raise NotImplementedError

    def child_params(self):
        """The child stack's parameter values, a dict."""
        raise NotImplementedError

    #: A type alias of the parent's environment this resource's type
    #: comes from, not passed on to the child (it would nest it again).
    resource_info = None

    # -- the engine's side ----------------------------------------------

    def _children(self):
        service = getattr(self.stack, "child_stacks", None)
        if service is None:
            raise exception.NotSupported(
                feature="a nested stack outside a running operation")
        return service

    def _starting(self):
        """The child service, once this run is known to still hold the
        resource: a run that lost it (a zombie) must not start an
        operation on the child, which is not fenced by the parent's
        run."""
        service = self._children()
        self._storage.check_held()
        return service

    def child_environment(self, params):
        """The child's environment: ``params``, the parent's
        ``parameter_defaults``, and the parent's type aliases but the one
        naming this resource's own type."""
        env = getattr(self.stack, "env", None)
        registry = dict(getattr(env, "resource_registry", None) or {})
        if self.resource_info is not None:
            registry.pop(self.resource_info, None)
        out = {"parameters": dict(params or {})}
        if registry:
            out["resource_registry"] = registry
        defaults = getattr(env, "parameter_defaults", None)
        if defaults:
            # Heat's: they give defaults to the child's parameters too.
            out["parameter_defaults"] = dict(defaults)
        return out

    def _files(self):
        return dict(getattr(self.stack.t, "files", None) or {})

    def has_nested(self):
        return self.resource_id is not None

    def nested(self):
        """The child stack, read-only (a :class:`heatflow.stack_view.
        StackView` over its rows), or None when there is none."""
        if self.resource_id is None:
            return None
        return self._children().view(self.resource_id)

    def create_with_template(self, child_template, user_params=None,
                             timeout_mins=None):
        """Start creating the child; its operation's traversal (the token
        the create is polled with)."""
        if user_params is None:
            user_params = self.child_params()
        started = self._starting().create(
            owner_id=self.stack.id, parent_resource=self.name,
            name=self.physical_resource_name(), template=child_template,
            files=self._files(),
            environment=self.child_environment(user_params),
            timeout_mins=self._timeout(timeout_mins), context=self.context)
        self.resource_id_set(started.stack_id)
        return started.traversal

    def update_with_template(self, child_template, user_params=None,
                             timeout_mins=None):
        """Start updating the child (creating it first if an earlier
        create failed before it existed); the token to poll with."""
        if self.resource_id is None:
            return {"create": self.create_with_template(
                child_template, user_params, timeout_mins)}
        if user_params is None:
            user_params = self.child_params()
        started = self._starting().update(
            self.resource_id, template=child_template, files=self._files(),
            environment=self.child_environment(user_params),
            timeout_mins=self._timeout(timeout_mins), context=self.context)
        return started.traversal

    def delete_nested(self):
        """Start deleting the child; its traversal, or None when there is
        no child (left to delete)."""
        if self.resource_id is None:
            return None
        started = self._starting().delete(self.resource_id,
                                          context=self.context)
        return None if started is None else started.traversal

    def _timeout(self, timeout_mins):
        # Heat's: the child inherits the parent's timeout.
        return timeout_mins if timeout_mins is not None \
            else self.stack.timeout_mins

    def _check_status_complete(self, action, traversal):
        """Has the child's operation ``traversal`` (``action``) settled?
        True when it completed, False while it runs; a failure raises
        ResourceFailure with the child's reason."""
        if self.resource_id is None:
            return action == states.DELETE
        row = self._children().get(self.resource_id)
        if row is None or row.deleted_marker:
            if action == states.DELETE:
                return True
            raise exception.ResourceFailure(
                self.name, action, "nested stack %s is gone"
                % self.resource_id)
        if traversal is not None and row.traversal != traversal:
            raise exception.ResourceFailure(
                self.name, action,
                "nested stack %s: its %s was superseded (%s_%s: %s)"
                % (row.name, action, row.action, row.status,
                   row.status_reason))
        if row.status == states.IN_PROGRESS:
            raise resource.PollDelay(self._next_poll())
        if row.status == states.FAILED:
            raise exception.ResourceFailure(
                self.name, action, "nested stack %s %s_FAILED: %s"
                % (row.name, row.action, row.status_reason))
        return True

    #: The longest pause between two polls of the child (seconds).
    CHILD_POLL_MAX = 1.0

    def _next_poll(self):
        """The pause before the next look at the child: a tenth of the time
        waited so far, from 50 ms up to CHILD_POLL_MAX.  The engine's
        doubling back-off (meant for cloud APIs) would let a child that
        took 3 s be noticed up to 3 s late; a row read is cheap."""
        now = time.monotonic()
        first = getattr(self, "_first_poll", None)
        if first is None:
            first = self._first_poll = now
        return min(self.CHILD_POLL_MAX, max(0.05, (now - first) / 10.0))

    # -- Heat's hooks ---------------------------------------------------

    def _needs_update(self, after, before, after_props, before_props,
                      prev_resource, check_init_complete=True):
        # Heat's: always update the child, and let each of its resources
        # decide whether it changes.
        super()._needs_update(after, before, after_props, before_props,
                              prev_resource, check_init_complete)
        return True

    def needs_replace_failed(self):
        # Heat's: a failed nested resource whose child exists is updated
        # (each of the child's resources then decides), not replaced.
        return self.resource_id is None

    def handle_create(self):
        return self.create_with_template(self.child_template(),
                                         self.child_params())

    def check_create_complete(self, token):
        return self._check_status_complete(states.CREATE, token)

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        return self.update_with_template(self.child_template(),
                                         self.child_params())

    def check_update_complete(self, token):
        if isinstance(token, dict):
            return self._check_status_complete(states.CREATE,
                                               token["create"])
        return self._check_status_complete(states.UPDATE, token)

    def handle_delete(self):
        return self.delete_nested()

    def check_delete_complete(self, token):
        return self._check_status_complete(states.DELETE, token)

    def _act(self, action):
        if self.resource_id is None:
            raise exception.ResourceFailure(
                self.name, action, "its nested stack was never created")
        return self._starting().act(self.resource_id, action).traversal

    def handle_suspend(self):
        return self._act(states.SUSPEND)

    def check_suspend_complete(self, token):
        return self._check_status_complete(states.SUSPEND, token)

    def handle_resume(self):
        return self._act(states.RESUME)

    def check_resume_complete(self, token):
        return self._check_status_complete(states.RESUME, token)

    def handle_check(self):
        return self._act(states.CHECK)

    def check_check_complete(self, token):
        return self._check_status_complete(states.CHECK, token)

    def handle_create_cancel(self, token):
        """The parent's create timed out: stop the child's (Heat's)."""
        if self.resource_id is not None:
            self._starting().cancel(self.resource_id)

    handle_update_cancel = handle_create_cancel

    # -- attributes -----------------------------------------------------

    def get_output(self, name):
        """The value of the child's output ``name`` (None when it has no
        value yet); an unknown output is an error naming it."""
        if self.resource_id is None:
            return None
        outputs = self._children().outputs(self.resource_id)
        if name not in outputs:
            raise exception.InvalidTemplateAttribute(resource=self.name,
                                                     key=name)
        return outputs[name]

    def _resolve_attribute(self, name):
        return self.get_output(name)

    def get_reference_id(self):
        return self.resource_id if self.resource_id is not None \
            else self.name
