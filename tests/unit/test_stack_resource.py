"""The StackResource base (heatflow/stack_resource.py) against a stand-in
of the engine's child-stack service: what it asks for, and when it must
not ask (a run that lost its resource)."""

import collections

import pytest

from heatflow import exception
from heatflow import resource
from heatflow import stack_resource
from heatflow import stack_view

Started = collections.namedtuple("Started", "stack_id traversal action")


class Service:
    def __init__(self):
        self.calls = []

    def create(self, **kw):
        self.calls.append(("create", kw))
        return Started("child-1", "trav-1", "CREATE")

    def update(self, child_id, **kw):
        self.calls.append(("update", child_id, kw))
        return Started(child_id, "trav-2", "UPDATE")

    def delete(self, child_id, context=None):
        self.calls.append(("delete", child_id))
        return Started(child_id, "trav-3", "DELETE")


class Lost(resource.ResourceStorage):
    def check_held(self):
        raise exception.Superseded("resource lock lost")


class Child(stack_resource.StackResource):
    resource_info = "My::Child"

    def child_template(self):
        return {"heat_template_version": "2018-08-31"}

    def child_params(self):
        return {"p": 1}


class Env:
    resource_registry = {"My::Child": "child.yaml", "Other": "x.yaml"}


def plugin(storage, service):
    view = stack_view.StackView("parent", "parent-id",
                                child_stacks=service)
    view._definition = type("D", (), {"environment": Env(),
                                      "template": None})()
    inst = Child("web", None, {}, storage=storage, stack_name="parent")
    inst.stack = view
    return inst


def test_the_child_is_created_under_the_resources_physical_name():
    service = Service()
    p = plugin(resource.ResourceStorage(physical_name="parent-web-abc"),
               service)
    assert p.handle_create() == "trav-1"
    assert p.resource_id == "child-1"
    (verb, kw), = service.calls
    assert verb == "create"
    assert kw["name"] == "parent-web-abc"
    assert kw["owner_id"] == "parent-id" and kw["parent_resource"] == "web"
    # The alias that named this resource's type is not passed down.
    assert kw["environment"] == {"parameters": {"p": 1},
                                 "resource_registry": {"Other": "x.yaml"}}


@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_a_run_that_lost_its_resource_starts_nothing_on_the_child(action):
    service = Service()
    p = plugin(Lost(resource_id="child-1"), service)
    with pytest.raises(exception.Superseded):
        if action == "create":
            p.handle_create()
        elif action == "update":
            p.handle_update(None, None, {})
        else:
            p.handle_delete()
    assert service.calls == []
