"""The built-in resource types."""


def resource_mapping():
    """{type name: class} of every built-in plugin."""
    # Imported here, not at module level, so that importing heatflow.plugins
    # (e.g. by the registry) does not import heatflow.resource before
    # heatflow.resource is able to import its own dependencies.
    from heatflow.plugins import (nested_stack, none, random_string,
                                  resource_chain, resource_group,
                                  test_resource, value)
    mapping = {}
    for module in (none, value, random_string, test_resource, nested_stack,
                   resource_group, resource_chain):
        mapping.update(module.resource_mapping())
    return mapping
