"""OS::Heat::ResourceChain: one resource of each type in ``resources``,
all given ``resource_properties``, the members of a child stack named
"0", "1", ... (Heat's behaviour).

Unless ``concurrent``, each member depends on the one before it: they are
created in order and deleted in reverse.  A change of ``resources``
updates the child in place; a change of ``concurrent`` or of
``resource_properties`` replaces the chain (Heat's schema).  The
attributes are member_stack's (``refs``, ``attributes``, ``resource.N``,
``resource.N.attr``, any other name: that attribute of every member).
"""

from heatflow import constraints, properties, stack_resource
from heatflow.plugins import member_stack

P = properties.Schema


class ResourceChain(member_stack.MemberAttributes,
                    stack_resource.StackResource):
    """Resources of the listed types, each depending on the one before."""

    properties_schema = {
        "resources": P(
            P.LIST, "The types of the resources to create, in order.",
            required=True, update_allowed=True,
            schema=P(P.STRING, "A resource type.",
                     constraints=[constraints.Length(min=1)])),
        "concurrent": P(P.BOOLEAN, "Create the resources concurrently "
                        "instead of each after the one before.",
                        default=False),
        "resource_properties": P(P.MAP, "The properties given to every "
                                 "resource of the chain."),
    }
    attributes_schema = dict(member_stack.ATTRIBUTES_SCHEMA)

    def member_names(self):
        return [str(i) for i in range(len(self.properties["resources"]))]

    def child_template(self):
        members = member_stack.chain_members(
            self.properties["resources"],
            self.properties["resource_properties"],
            self.properties["concurrent"])
        return member_stack.child_template(
            members, self.member_outputs(list(members)),
            "Members of resource chain %s" % self.name)

    def child_params(self):
        return {}


def resource_mapping():
    return {"OS::Heat::ResourceChain": ResourceChain}
