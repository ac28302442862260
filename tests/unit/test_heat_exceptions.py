"""Heat's exception names (issue 18): Heat's constructor keywords, and a
plugin that raises one fails its resource with the message alone."""

import pytest

import heatflow
from heatflow import exception, resource
from heatflow.flows import atoms


@pytest.mark.parametrize("exc,words", [
    (exception.Error("disk full"), ["disk full"]),
    (exception.ResourceInError(resource_status="ERROR",
                               status_reason="no host"),
     ["ERROR", "no host"]),
    (exception.ResourceInError(resource_status="ERROR"),
     ["ERROR", "Unknown"]),
    (exception.ResourceUnknownStatus(resource_status="WEIRD",
                                     result="Create failed"),
     ["Create failed", "WEIRD", "Unknown"]),
    (exception.PhysicalResourceExists(name="web"), ["web"]),
    (exception.UserParameterMissing(key="flavor"), ["flavor"]),
    (exception.InvalidTemplateAttribute(resource="web", key="ip"),
     ["web", "ip"]),
    (exception.EntityNotFound(entity="Server", name="web"),
     ["Server", "web"]),
    (exception.TemplateOutputError(resource="web", attribute="ip",
                                   message="no address"),
     ["web", "ip", "no address"]),
    (exception.ResourcePropertyConflict("a", "b"), ["a, b"]),
    (exception.PropertyUnspecifiedError("a", "b"), ["a, b"]),
    (exception.ResourcePropertyDependency(prop1="a", prop2="b"), ["a", "b"]),
    (exception.NotSupported(feature="Resize"), ["Resize"]),
    (exception.ClientNotAvailable(client_name="nova"),
     ["nova", "register_client_plugin", "heatflow.clients"]),
    (exception.RequestLimitExceeded(message="too big"), ["too big"]),
])
def test_heat_keywords_make_the_message(exc, words):
    text = str(exc)
    for word in words:
        assert word in text
    assert isinstance(exc, exception.HeatflowError)
    # The engine's rule for a resource's failure: the text alone.
    assert atoms._message(exc) == text


def test_entity_not_found_keeps_its_fields_and_is_not_a_heatflow_not_found():
    exc = exception.EntityNotFound(entity="Volume", name="v1")
    assert (exc.entity, exc.name) == ("Volume", "v1")
    assert not isinstance(exc, exception.NotFound)     # as in Heat


def test_a_plugin_subclass_with_its_own_format():
    class QuotaError(exception.HeatException):
        msg_fmt = "quota of %(what)s exhausted"

    assert str(QuotaError(what="cores")) == "quota of cores exhausted"
    # Keywords that do not fit the format keep the details.
    assert "cores" in str(QuotaError(which="cores"))


def test_stack_validation_failed_takes_heats_keywords():
    class Res:
        name = "web"

    assert str(exception.StackValidationFailed(message="bad")) == "bad"
    assert str(exception.StackValidationFailed(
        message="bad", resource=Res())) == "resources.web: bad"
    assert str(exception.StackValidationFailed(
        error="Property error", message="bad", path=["a", 0])) == \
        "a[0]: Property error: bad"
    assert str(exception.StackValidationFailed(error=ValueError("x"))) == \
        "ValueError: x"
    inner = exception.StackValidationFailed("bad", ["p"])
    assert str(exception.StackValidationFailed(error=inner)) == "p: bad"
    # heatflow's own positional form is unchanged.
    assert str(exception.StackValidationFailed("m", "x.y")) == "x.y: m"


class Broken(resource.Resource):
    def handle_create(self):
        raise exception.ResourceInError(resource_status="ERROR",
                                        status_reason="no valid host")


def test_the_engine_fails_the_resource_with_the_message(tmp_path):
    orch = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"),
                                 poll_interval=(0.005, 0.05))
    try:
        orch.register_plugin("Test::Broken", Broken)
        stack = orch.create_stack("st", {
            "heat_template_version": "2018-08-31",
            "resources": {"b": {"type": "Test::Broken"}}}).wait(30)
        assert stack.stack_status == "CREATE_FAILED"
        (res,) = orch.list_resources("st")
        assert (res.action, res.status) == ("CREATE", "FAILED")
        assert res.status_reason == \
            'The resource went to status ERROR: "no valid host"'
    finally:
        orch.close()


@pytest.mark.parametrize("exc", [
    exception.Error("boom"),
    exception.EntityNotFound(entity="Server", name="web"),
    exception.NotSupported(feature="Resize"),
    exception.ResourcePropertyConflict("a", "b"),
])
def test_pickled_and_copied(exc):
    import copy
    import pickle
    for again in (pickle.loads(pickle.dumps(exc)), copy.deepcopy(exc)):
        assert type(again) is type(exc)
        assert str(again) == str(exc)
        assert again.kwargs == exc.kwargs


def test_positional_arguments_only_where_heat_takes_them():
    with pytest.raises(TypeError, match="keyword arguments only"):
        exception.NotSupported("Resize")
