"""OS::Heat::WaitConditionHandle's signals, without the engine: what it
keeps of each, Heat's defaults, and a number that another signal took
meanwhile."""

import json

import pytest

from heatflow import resource
from heatflow.plugins import wait_condition


class LaggingStorage(resource.ResourceStorage):
    """Plugin data whose reads miss the item another writer added a
    moment ago (a concurrent signal that numbered itself from the same
    count)."""

    def __init__(self, hidden):
        super().__init__()
        self.hidden = hidden
        self._data.update(hidden)

    def data(self):
        return {k: v for k, v in self._data.items() if k not in self.hidden}


def handle(storage=None):
    h = wait_condition.WaitConditionHandle.for_test("handle")
    if storage is not None:
        h._storage = storage
    return h


def test_heats_defaults_and_an_id_kept_once():
    h = handle()
    assert h.handle_signal(None) == "Signal 1 received"
    assert h.handle_signal({"id": "web", "data": 1}) == "Signal web received"
    assert h.handle_signal({"id": "web", "status": "FAILURE",
                            "reason": "gone"}) == "Signal web received"
    assert wait_condition.signals_of(h.data()) == {
        "1": {"status": "SUCCESS", "reason": "Signal 1 received",
              "data": None},
        "web": {"status": "FAILURE", "reason": "gone", "data": None}}


def test_a_number_another_signal_took_meanwhile_is_not_overwritten():
    first = {"status": "SUCCESS", "reason": "first", "data": "a"}
    storage = LaggingStorage({"signal:1": json.dumps(first)})
    h = handle(storage)
    assert h.handle_signal({"data": "b"}) == "Signal 2 received"
    assert json.loads(storage._data["signal:1"]) == first
    assert json.loads(storage._data["signal:2"])["data"] == "b"


@pytest.mark.parametrize("bad", [{"status": "MAYBE"}, {"colour": "red"},
                                 "SUCCESS", [], 3])
def test_a_malformed_signal_is_refused_and_nothing_kept(bad):
    h = handle()
    with pytest.raises(ValueError, match="a wait condition signal is a "
                                         "JSON object with the keys"):
        h.handle_signal(bad)
    assert h.data() == {}


def test_only_a_token_signal_handle_has_a_token(monkeypatch):
    monkeypatch.setenv(wait_condition.RECEIVER_URL, "http://r:1")
    h = wait_condition.WaitConditionHandle.for_test("h")
    h.handle_create()
    assert len(h.get_attribute("token")) >= 32
    assert h.get_attribute("endpoint") == "http://r:1/signal//h"
    api_only = wait_condition.WaitConditionHandle.for_test(
        "h", {"signal_transport": "HEAT_SIGNAL"})
    api_only.handle_create()
    assert [api_only.get_attribute(a) for a in
            ("token", "endpoint", "curl_cli")] == [None, None, None]
    assert json.loads(api_only.get_attribute("signal")) == {
        "stack": "test", "resource": "h"}
