"""OS::Heat::ResourceGroup: ``count`` identically configured resources,
the members of a child stack (Heat's behaviour).

Members are named "0", "1", ...; ``index_var`` (``%index%``) in the
strings of ``resource_def``'s properties becomes the member's name.  A
change of ``count``, ``resource_def`` or ``removal_policies`` updates the
child in place (the group is never replaced for it): members added,
removed from the top, or updated by their own rules.  ``removal_policies``
names members (by name or reference id) to remove first; a removed name is
never used again (``removal_policies_mode: update`` forgets the ones the
policies no longer name).  The attributes are member_stack's.
"""

import json
import time

from heatflow import attributes, constraints, exception
from heatflow import properties, resource, stack_resource, states
from heatflow.plugins import group_batches, member_stack

P = properties.Schema

#: Where the removed names are kept (the group's data).
REMOVED_KEY = "removed_names"
#: The definitions last given to the members (a rolling update compares
#: them with the new one).
MEMBER_DEFS_KEY = "member_definitions"
#: A batched create or update in progress.
BATCH_KEY = "batches"


class ResourceGroup(member_stack.MemberAttributes,
                    stack_resource.StackResource):
    """One or more identically configured resources in a child stack."""

    properties_schema = {
        "count": P(P.INTEGER, "The number of resources to create.",
                   default=1, constraints=[constraints.Range(min=0)],
                   update_allowed=True),
        "index_var": P(P.STRING, "A variable replaced, in the strings of "
                       "the members' properties, by the member's index.",
                       default="%index%",
                       constraints=[constraints.Length(min=3)]),
        "resource_def": P(
            P.MAP, "The definition of the members, as a resource's in a "
            "template.", required=True, update_allowed=True, schema={
                "type": P(P.STRING, "The type of the members.",
                          required=True),
                "properties": P(P.MAP, "The members' property values."),
                "metadata": P(P.MAP, "The members' metadata."),
            }),
        "removal_policies": P(
            P.LIST, "Policies for removing specific members on update.",
            default=[], update_allowed=True, schema=P(
                P.MAP, "Members to remove first.", schema={
                    "resource_list": P(
                        P.LIST, "Members to remove, by name or by "
                        "reference id (as in the refs attribute); a "
                        "removed name is never used again.", default=[]),
                })),
        "removal_policies_mode": P(
            P.STRING, "append: members removed stay removed; update: only "
            "those the removal policies name now.", default="append",
            constraints=[constraints.AllowedValues(["append", "update"])],
            update_allowed=True),
    }
    attributes_schema = dict(member_stack.ATTRIBUTES_SCHEMA, **{
        member_stack.REFS_MAP: attributes.Schema(
            "A map of member names to reference ids.",
            type=attributes.Schema.MAP),
        member_stack.REMOVED: attributes.Schema(
            "The names of the members removed.",
            type=attributes.Schema.LIST),
    })
    update_policy_schema = {
        "rolling_update": P(P.MAP, schema={
            "min_in_service": P(P.INTEGER, default=0,
                                constraints=[constraints.Range(min=0)]),
            "max_batch_size": P(P.INTEGER, default=1,
                                constraints=[constraints.Range(min=1)]),
            "pause_time": P(P.NUMBER, default=0,
                            constraints=[constraints.Range(0, 3600)]),
        }),
        "batch_create": P(P.MAP, schema={
            "max_batch_size": P(P.INTEGER, default=1,
                                constraints=[constraints.Range(min=1)]),
            "pause_time": P(P.NUMBER, default=0,
                            constraints=[constraints.Range(0, 3600)]),
        }),
    }

    def validate(self):
        super().validate()
        policy = getattr(self.t, "update_policy", None)
        if policy:
            properties.Properties(
                self.update_policy_schema, policy,
                path=("resources", self.name, "update_policy")).validate()

    # -- members --------------------------------------------------------------

    def removed_member_names(self):
        return member_stack.load_removed(self.data().get(REMOVED_KEY))

    def member_names(self):
        return member_stack.member_names(self.properties["count"],
                                         self.removed_member_names())

    def _note_removals(self):
        """Add the members the removal policies name to the removed ones
        (before the child's template is written, which leaves them out)."""
        removed = self.removed_member_names()
        nested = self._nested()
        members = list(nested) if nested is not None else []
        now = member_stack.removed_names(
            self.properties["removal_policies"],
            self.properties["removal_policies_mode"], set(removed),
            self.resource_id is not None, members, self.member_of_ref)
        if now != set(removed):
            self.data_set(REMOVED_KEY, member_stack.dump_removed(now))

    def _resource_def(self):
        resource_def = self.properties["resource_def"]
        if resource_def is properties.DEFERRED:
            raise exception.StackValidationFailed(
                "resource_def is not known yet",
                ("resources", self.name, "properties", "resource_def"))
        return resource_def

    def _all_members(self):
        """[(name, resource_def)] of the group as its properties say."""
        resource_def = self._resource_def()
        return [(name, resource_def) for name in self.member_names()]

    def _template_of(self, definitions):
        """The child template of [(name, resource_def)]."""
        definitions = sorted(definitions,
                             key=lambda d: member_stack.name_order(d[0]))
        members = member_stack.group_members(definitions,
                                             self.properties["index_var"])
        return member_stack.child_template(
            members, self.member_outputs([n for n, _ in definitions]),
            "Members of resource group %s" % self.name)

    def _apply(self, definitions):
        """Start the child's create or update to [(name, resource_def)],
        recording them as the members' (a rolling update compares them
        with its new definition); the token to poll with.  Recorded once
        started: started again after a crash in between, the child is
        given the same template."""
        template = self._template_of(definitions)
        if self.resource_id is None:
            started = self.create_with_template(template, {})
        else:
            started = self.update_with_template(template, {})
        self.data_set(MEMBER_DEFS_KEY, _dump_definitions(definitions))
        return started

    def child_template(self):
        return self._template_of(self._all_members())

    def child_params(self):
        return {}

    # -- actions -------------------------------------------------------------

    def _policy(self, name):
        policy = getattr(self.t, "update_policy", None) or {}
        if not policy.get(name):
            return None
        return properties.Properties(self.update_policy_schema[name].schema,
                                     policy[name])

    def handle_create(self):
        self.data_delete(BATCH_KEY)
        self._note_removals()
        policy = self._policy("batch_create")
        count = self.properties["count"]
        if policy is not None and count:
            return self._start_batches(states.CREATE, group_batches.batches(
                count, 0, policy["max_batch_size"], 0),
                policy["pause_time"])
        return self._apply(self._all_members())

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        self.data_delete(BATCH_KEY)
        self._note_removals()
        policy = self._policy("rolling_update")
        if policy is not None and "resource_def" in prop_diff:
            steps = group_batches.batches(
                self.properties["count"], len(self._existing_members()),
                policy["max_batch_size"], policy["min_in_service"])
            if steps:
                return self._start_batches(states.UPDATE, steps,
                                           policy["pause_time"])
        return self._apply(self._all_members())

    def check_create_complete(self, token):
        if self._batch() is not None:
            return self._batches_done()
        return super().check_create_complete(token)

    def check_update_complete(self, token):
        if self._batch() is not None:
            return self._batches_done()
        return super().check_update_complete(token)

    # -- batches -------------------------------------------------------------
    # The progress is kept in the group's data, so that an action resumed
    # after a crash (its token lost) carries on where it was.

    def _batch(self):
        stored = self.data().get(BATCH_KEY)
        return json.loads(stored) if stored else None

    def _save_batch(self, batch):
        self.data_set(BATCH_KEY, json.dumps(batch))

    def _existing_members(self):
        """The members the child has now (removed ones excepted)."""
        nested = self._nested()
        removed = set(self.removed_member_names())
        return sorted((n for n in (nested if nested is not None else ())
                       if n not in removed), key=member_stack.name_order)

    def _start_batches(self, action, steps, pause):
        timeout = self.stack.timeout_secs()
        if pause * max(len(steps) - 1, 0) >= timeout:
            raise exception.ResourceFailure(
                self.name, action, "the update policy's pauses (%d batches, "
                "%g s apart) would outlast the stack's timeout (%g s)"
                % (len(steps), pause, timeout))
        self._save_batch({"action": action, "steps": steps, "index": -1,
                          "pause": pause, "traversal": None,
                          "ready_at": None})
        return self._next_batch(self._batch())

    def _next_batch(self, batch):
        """Start the batch after the one done (or the first)."""
        batch.update(index=batch["index"] + 1, traversal=None,
                     ready_at=None)
        self._save_batch(batch)
        capacity, fresh = batch["steps"][batch["index"]]
        names = member_stack.member_names(capacity,
                                          self.removed_member_names())
        old = _load_definitions(self.data().get(MEMBER_DEFS_KEY))
        existing = [(n, old.get(n)) for n in self._existing_members()]
        started = self._apply(group_batches.batch_members(
            names, existing, self._resource_def(),
            self.properties["count"], fresh))
        batch["traversal"] = started
        self._save_batch(batch)
        return started

    def _batches_done(self):
        batch = self._batch()
        if batch["traversal"] is None:
            # Resumed after a crash between recording the batch and its
            # start: start it (again: the same template changes nothing).
            batch["index"] -= 1
            self._next_batch(batch)
            return False
        traversal = batch["traversal"]
        settled = super().check_update_complete(traversal) \
            if batch["index"] or batch["action"] == states.UPDATE \
            else super().check_create_complete(traversal)
        if not settled:
            return False
        if batch["index"] == len(batch["steps"]) - 1:
            self.data_delete(BATCH_KEY)
            return True
        now = time.time()
        if batch["ready_at"] is None:
            batch["ready_at"] = now + batch["pause"]
            self._save_batch(batch)
        if now < batch["ready_at"]:
            raise resource.PollDelay(batch["ready_at"] - now)
        self._next_batch(batch)
        return False


def _dump_definitions(definitions):
    """[(name, resource_def)] as stored: each distinct definition once."""
    distinct, of = [], {}
    for name, defn in definitions:
        if defn not in distinct:
            distinct.append(defn)
        of[name] = distinct.index(defn)
    return json.dumps({"definitions": distinct, "members": of})


def _load_definitions(stored):
    """{name: resource_def} as stored (empty: nothing recorded)."""
    if not stored:
        return {}
    data = json.loads(stored)
    return {name: data["definitions"][i]
            for name, i in data["members"].items()}


def resource_mapping():
    return {"OS::Heat::ResourceGroup": ResourceGroup}
