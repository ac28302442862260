"""OS::Heat::None: a stand-in that accepts anything and does nothing.

Used through the environment's resource registry to switch a resource off
without editing the template: any properties are accepted, every attribute
is None, and an update never replaces it.
"""

import uuid

from heatflow import resource


class NoneResource(resource.Resource):
    """A stand-in that accepts any properties and does nothing."""

    strict_properties = False
    strict_attributes = False

    def handle_create(self):
        # A physical id of its own so that get_resource gives something
        # unique, as Heat's does.
        self.resource_id_set(str(uuid.uuid4()))

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        # Whatever changed, nothing is there to change: never replace.
        return None

    def needs_replace_failed(self):
        # Nothing can be broken about a resource that does nothing.
        return False

    def get_attribute(self, name, *path):
        return None

    def _resolve_attribute(self, name):
        return None


def resource_mapping():
    return {"OS::Heat::None": NoneResource}
