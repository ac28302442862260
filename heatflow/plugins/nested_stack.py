"""OS::Heat::Stack: a nested stack whose template is a property (usually
``get_file``'s text), with its parameters and timeout.

Heat's OS::Heat::Stack creates the stack through the orchestration API of
a region (its ``context`` property); heatflow's is a nested stack of the
same database, so a ``context`` naming a region is refused rather than
silently ignored.
"""

from heatflow import attributes
from heatflow import exception
from heatflow import properties
from heatflow import stack_resource
from heatflow import template_format

P = properties.Schema


class NestedStack(stack_resource.StackResource):
    """A stack made from the ``template`` property."""

    properties_schema = {
        "template": P(P.STRING, "The template of the nested stack.",
                      required=True, update_allowed=True),
        "parameters": P(P.MAP, "The nested stack's parameter values.",
                        default={}, update_allowed=True),
        "timeout": P(P.NUMBER, "Minutes the nested stack's operations may "
                     "take (default: the parent's timeout).",
                     update_allowed=True),
        "context": P(P.MAP, "Heat's region context: only an empty one "
                     "(a nested stack lives in the parent's database)."),
    }
    attributes_schema = {
        "outputs": attributes.Schema("The nested stack's outputs, a map.",
                                     type=attributes.Schema.MAP),
        "stack_name": attributes.Schema("The nested stack's name.",
                                        type=attributes.Schema.STRING),
    }

    def validate(self):
        super().validate()
        context = self.properties.get("context")
        if context:
            raise exception.StackValidationFailed(
                "a region context is not supported: the nested stack lives "
                "in the parent's database", ("resources", self.name,
                                             "properties", "context"))
        text = self.properties.get("template")
        if isinstance(text, str) and self.properties.known("template"):
            self._parsed(text)

    def _parsed(self, text):
        try:
            return template_format.parse(text)
        except ValueError as exc:
            raise exception.StackValidationFailed(
                "the template is not valid: %s" % exc,
                ("resources", self.name, "properties", "template")) from None

    def child_template(self):
        return self._parsed(self.properties["template"])

    def child_params(self):
        return dict(self.properties.get("parameters") or {})

    def _minutes(self):
        timeout = self.properties.get("timeout")
        return None if timeout is None else max(1, int(round(timeout)))

    def handle_create(self):
        return self.create_with_template(self.child_template(),
                                         self.child_params(), self._minutes())

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        return self.update_with_template(self.child_template(),
                                         self.child_params(), self._minutes())

    def _resolve_attribute(self, name):
        if self.resource_id is None:
            return None
        if name == "outputs":
            return self._children().outputs(self.resource_id)
        if name == "stack_name":
            return self.physical_resource_name()
        return None


def resource_mapping():
    return {"OS::Heat::Stack": NestedStack}
