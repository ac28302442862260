"""Heat's support_status vocabulary, as Heat plugins use it."""

import pytest

from heatflow import attributes, exception, properties, resource, support


def test_a_heat_plugins_support_declarations_import_unchanged():
    class Retired(resource.Resource):
        support_status = support.SupportStatus(
            version="23.0.0", status=support.HIDDEN, message="retired",
            previous_status=support.SupportStatus(
                version="22.0.0", status=support.DEPRECATED,
                previous_status=support.SupportStatus(version="5.0.0")))
        properties_schema = {"size": properties.Schema(
            properties.Schema.INTEGER, support_status=support.SupportStatus(
                status=support.UNSUPPORTED))}
        attributes_schema = {"url": attributes.Schema(
            "URL.", support_status=support.SupportStatus(version="6.0.0"))}

    history = Retired.support_status.to_dict()
    assert (history["status"], history["version"], history["message"]) == (
        "HIDDEN", "23.0.0", "retired")
    assert history["previous_status"]["previous_status"] == {
        "status": "SUPPORTED", "message": None, "version": "5.0.0",
        "previous_status": None}
    assert resource.Resource.support_status.status == support.SUPPORTED


def test_an_unknown_status_is_unknown_and_a_bad_history_an_error():
    # Heat's rule: a plugin naming a status it does not know still loads
    status = support.SupportStatus(status="RETIRED", version="1.0")
    assert (status.status, status.version) == (support.UNKNOWN, None)
    assert "invalid" in status.message
    with pytest.raises(exception.PluginError, match="previous_status"):
        support.SupportStatus(previous_status="SUPPORTED")


def test_actions_and_statuses_are_named_on_the_class_as_in_heat():
    r = resource.Resource
    assert (r.CREATE, r.UPDATE, r.DELETE, r.CHECK, r.SUSPEND, r.RESUME,
            r.INIT, r.ROLLBACK) == ("CREATE", "UPDATE", "DELETE", "CHECK",
                                    "SUSPEND", "RESUME", "INIT", "ROLLBACK")
    assert set(r.STATUSES) == {"IN_PROGRESS", "COMPLETE", "FAILED"}
    assert (r.ADOPT, r.SNAPSHOT) == ("ADOPT", "SNAPSHOT")
    assert len(r.ACTIONS) == 10
