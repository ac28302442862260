"""An example resource plugin, in Heat's plugin_dirs form.

Load it with ``heatflow --plugin-dir examples/plugins ...``,
``HEATFLOW_PLUGIN_DIRS=examples/plugins`` or
``Orchestrator(plugin_dirs=["examples/plugins"])``.  A real plugin would
call a cloud API where this one keeps its widgets in a dict.
"""

import uuid

from heatflow import attributes, constraints, exception, properties, resource

# Stand-in for a remote service: widget id -> size.
WIDGETS = {}


class Widget(resource.Resource):
    """A widget of a given size; resizing is done in place, recolouring
    needs a new widget."""

    default_timeout = 60

    properties_schema = {
        "size": properties.Schema(
            properties.Schema.INTEGER, "How big the widget is.",
            required=True, update_allowed=True,
            constraints=[constraints.Range(1, 9)]),
        "colour": properties.Schema(
            properties.Schema.STRING, "Its colour; changing it replaces it.",
            default="blue",
            constraints=[constraints.AllowedValues(["blue", "red"])]),
    }
    attributes_schema = {
        "url": attributes.Schema("Where the widget lives."),
    }

    def handle_create(self):
        # Ids are never reused (a counter would start again in the next
        # process, and a replacement could get the id of what clean-up is
        # about to delete).
        widget_id = "w-" + uuid.uuid4().hex[:12]
        WIDGETS[widget_id] = self.properties["size"]
        # Recorded at once: if the engine dies now, a resumed create polls
        # this widget instead of making a second one.
        self.resource_id_set(widget_id)
        return widget_id

    def check_create_complete(self, widget_id):
        # widget_id is None when an engine resumed this create before the
        # token was recorded: the physical id is recorded, poll that.
        return (widget_id or self.resource_id) in WIDGETS

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if "colour" in prop_diff:
            raise exception.UpdateReplace(self.name)
        if "size" in prop_diff:
            WIDGETS[self.resource_id] = prop_diff["size"]

    def handle_delete(self):
        # Must tolerate "already gone" and "never created" (no id).
        if self.resource_id is not None:
            WIDGETS.pop(self.resource_id, None)

    def _resolve_attribute(self, name):
        if name == "url":
            return "https://widgets.example/%s" % self.resource_id


def resource_mapping():
    return {"Acme::Widget": Widget}
