"""Driving one plugin action: polls that back off (doubling up to a cap)
or come when the plugin asks (resource.PollDelay), deadlines, and a run
that lost its operation stopping."""

import math

import pytest

from heatflow import exception
from heatflow import resource
from heatflow.flows import driver
from heatflow.plugins import test_resource


class Clock:
    """time.time and time.sleep for the driver, without waiting."""

    def __init__(self, monkeypatch):
        self.now = 1000.0
        self.sleeps = []
        monkeypatch.setattr(driver.time, "time", lambda: self.now)
        monkeypatch.setattr(driver.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(driver.time, "sleep", self.sleep)

    def sleep(self, secs):
        self.sleeps.append(round(secs, 6))
        self.now += secs


class Slow:
    """A plugin whose create completes ``secs`` after its handler."""

    name = type = "slow"

    def __init__(self, clock, secs):
        self.clock, self.secs, self.polls = clock, secs, []

    def handle_create(self):
        return {"until": self.clock.now + self.secs}

    def check_create_complete(self, token):
        self.polls.append(self.clock.now)
        return self.clock.now >= token["until"] - 1e-9


class Knows(Slow):
    """A plugin that knows when it will be done, and says so."""

    def check_create_complete(self, token):
        if super().check_create_complete(token):
            return True
        raise resource.PollDelay(token["until"] - self.clock.now)


def test_a_30_s_action_is_polled_at_most_12_times(monkeypatch):
    """Budget: a real cloud API rate-limits its callers; the earlier
    schedule polled such an action 52 times, 15 of them in its first
    0.5 s."""
    clock = Clock(monkeypatch)
    plugin = Slow(clock, 30.0)
    driver.run(plugin, "CREATE")
    assert len(plugin.polls) <= 12
    assert sum(1 for t in plugin.polls if t - 1000.0 < 0.5) <= 5
    # ... and the completion is not seen more than the longest pause late.
    assert plugin.polls[-1] - 1000.0 <= 30.0 + driver.POLL_INTERVAL[1]


def test_pauses_double_from_the_first_up_to_the_longest(monkeypatch):
    clock = Clock(monkeypatch)
    driver.run(Slow(clock, 100.0), "CREATE", poll=(0.01, 1.0))
    assert clock.sleeps[:8] == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
                                1.0]
    assert max(clock.sleeps) == 1.0
    assert set(clock.sleeps[7:]) == {1.0}


def test_a_first_pause_of_zero_still_backs_off(monkeypatch):
    clock = Clock(monkeypatch)

    class Bounded(Slow):
        def check_create_complete(self, token):
            assert len(self.polls) < 30, "polled without pause"
            return super().check_create_complete(token)

    plugin = Bounded(clock, 30.0)
    driver.run(plugin, "CREATE", poll=(0, 10.0))
    assert max(clock.sleeps) == 10.0


def test_completion_is_seen_at_most_twice_as_late(monkeypatch):
    first, longest = driver.POLL_INTERVAL
    for secs in (0.05, 0.3, 2.0, 7.0, 45.0):
        clock = Clock(monkeypatch)
        plugin = Slow(clock, secs)
        driver.run(plugin, "CREATE")
        seen = plugin.polls[-1] - 1000.0
        assert secs - 1e-6 <= seen <= min(2 * secs + first,
                                          secs + longest) + 1e-9, secs


def test_a_50_ms_action_is_seen_at_its_second_poll(monkeypatch):
    clock = Clock(monkeypatch)
    plugin = Slow(clock, 0.05)
    driver.run(plugin, "CREATE")
    assert len(plugin.polls) == 2


def test_without_a_poll_setting_the_pauses_are_the_default(monkeypatch):
    clock = Clock(monkeypatch)
    driver.run(Slow(clock, 100.0), "CREATE")
    first, longest = driver.POLL_INTERVAL
    assert clock.sleeps[0] == first
    assert max(clock.sleeps) == longest


def test_the_deadline_fails_the_action(monkeypatch):
    clock = Clock(monkeypatch)
    with pytest.raises(exception.Timeout, match="too slow"):
        driver.run(Slow(clock, 10.0), "CREATE", deadline=clock.now + 2.0,
                   timeout_message="too slow")
    assert clock.now == pytest.approx(1002.0)


class Cancellable(Slow):
    """Slow, with Heat's cancel hook (a nested stack stops its child)."""

    def __init__(self, clock, secs, cancel_fails=False):
        super().__init__(clock, secs)
        self.cancelled, self.cancel_fails = [], cancel_fails

    def handle_create_cancel(self, token):
        self.cancelled.append(token)
        if self.cancel_fails:
            raise RuntimeError("cannot cancel")


@pytest.mark.parametrize("cancel_fails", [False, True])
def test_a_timed_out_action_is_cancelled_with_its_token(monkeypatch,
                                                        cancel_fails):
    clock = Clock(monkeypatch)
    plugin = Cancellable(clock, 10.0, cancel_fails)
    with pytest.raises(exception.Timeout, match="too slow"):
        driver.run(plugin, "CREATE", deadline=clock.now + 2.0,
                   timeout_message="too slow")
    assert plugin.cancelled == [{"until": 1010.0}]


def test_an_action_that_completes_is_not_cancelled(monkeypatch):
    clock = Clock(monkeypatch)
    plugin = Cancellable(clock, 1.0)
    driver.run(plugin, "CREATE", deadline=clock.now + 5.0)
    assert plugin.cancelled == []


def test_a_run_taken_over_stops_before_its_next_poll(monkeypatch):
    clock = Clock(monkeypatch)
    plugin = Slow(clock, 60.0)
    with pytest.raises(exception.Superseded):
        driver.run(plugin, "CREATE",
                   taken_over=lambda: len(plugin.polls) >= 3)
    # Asked after every poll but the last one made: no poll after it.
    assert len(plugin.polls) == 3


def test_a_deadline_reached_exactly_fails_with_the_actions_name(
        monkeypatch):
    clock = Clock(monkeypatch)
    with pytest.raises(exception.Timeout, match="^CREATE timed out$"):
        driver.run(Slow(clock, 10.0), "CREATE", deadline=clock.now + 0.5)
    # The last pause ends on the deadline, never past it, never negative.
    assert clock.now == pytest.approx(1000.5)
    assert min(clock.sleeps) >= 0


# -- resource.PollDelay: the plugin says when to ask again ------------------

def test_a_plugin_that_knows_is_polled_when_it_said(monkeypatch):
    clock = Clock(monkeypatch)
    plugin = Knows(clock, 30.0)
    driver.run(plugin, "CREATE")
    assert plugin.polls == [1000.0, 1030.0]
    assert clock.sleeps == [30.0]


def test_poll_delay_is_honoured_and_the_back_off_resumes_after_it(
        monkeypatch):
    clock = Clock(monkeypatch)
    answers = iter([False, resource.PollDelay(3), False, False])

    class Mixed(Slow):
        def check_create_complete(self, token):
            super().check_create_complete(token)
            answer = next(answers, True)
            if isinstance(answer, Exception):
                raise answer
            return answer

    plugin = Mixed(clock, 0)
    driver.run(plugin, "CREATE", poll=(0.01, 1.0))
    # 0.01 (back-off), 3 (asked), then the back-off where it was.
    assert clock.sleeps == [0.01, 3.0, 0.02, 0.04]
    assert len(plugin.polls) == 5


def test_a_poll_delay_is_never_shorter_than_the_first_pause(monkeypatch):
    """A plugin asking for 0 s over and over must not spin a worker."""
    clock = Clock(monkeypatch)
    polls = []

    class Eager(Slow):
        def check_create_complete(self, token):
            polls.append(clock.now)
            if len(polls) == 4:
                return True
            raise resource.PollDelay(0)

    driver.run(Eager(clock, 0), "CREATE", poll=(0.01, 1.0))
    assert clock.sleeps == [0.01, 0.01, 0.01]


def test_a_poll_delay_past_the_deadline_times_out_at_the_deadline(
        monkeypatch):
    """Not later (the plugin is not waited for past the deadline), and
    without the poll it asked not to have."""
    clock = Clock(monkeypatch)
    plugin = Knows(clock, 600.0)
    with pytest.raises(exception.Timeout, match="^CREATE timed out$"):
        driver.run(plugin, "CREATE", deadline=clock.now + 20.0)
    assert clock.now == pytest.approx(1020.0)
    assert plugin.polls == [1000.0]


def test_a_run_taken_over_during_a_poll_delay_stops(monkeypatch):
    """The pause a plugin asks for is still followed by the question
    (a zombie must not poll its plugin once another run owns the
    operation), deadline or not."""
    for deadline in (None, 1020.0):
        clock = Clock(monkeypatch)
        plugin = Knows(clock, 600.0)
        asked = []

        def taken_over():
            asked.append(clock.now)
            return len(asked) > 1          # not before the handler

        with pytest.raises(exception.Superseded):
            driver.run(plugin, "CREATE", deadline=deadline,
                       taken_over=taken_over)
        assert plugin.polls == [1000.0]
        assert asked[-1] == (deadline or 1600.0)


@pytest.mark.parametrize("period", [-1, math.nan, math.inf, "soon"])
def test_a_poll_delay_needs_a_finite_period(period):
    with pytest.raises(ValueError):
        resource.PollDelay(period)


def test_the_test_resource_is_polled_when_its_wait_ends(monkeypatch):
    """OS::Heat::TestResource knows when its wait ends: two polls for 30 s,
    not the back-off's eleven."""
    clock = Clock(monkeypatch)
    monkeypatch.setattr(test_resource, "_clock", lambda: clock.now)
    res = test_resource.TestResource.for_test("r", {"wait_secs": 30})
    calls = []
    check = res.check_create_complete
    monkeypatch.setattr(res, "check_create_complete",
                        lambda token: calls.append(clock.now) or
                        check(token))
    driver.run(res, "CREATE")
    assert calls == [1000.0, 1030.0]


class Tokens:
    """A plugin whose create hands back ``token`` and is done at once."""

    name = type = "tokens"

    def __init__(self, token):
        self.token, self.seen = token, []

    def handle_create(self):
        return self.token

    def check_create_complete(self, token):
        self.seen.append(token)
        return True


@pytest.mark.parametrize("token, saved", [
    ({"until": 1.5, "ids": ["a", 2, None, True]}, True),
    ([1, "x", (2, 3)], True),
    ("id-1", True),
    (7, True),
    (None, False),                       # nothing to resume with
    ({1: "int keys do not survive JSON"}, False),
    ({"nested": object()}, False),
    ([object()], False),
    (object(), False),
])
def test_a_token_is_saved_only_when_it_survives_json(token, saved):
    got = []
    plugin = Tokens(token)
    assert driver.run(plugin, "CREATE", save_token=got.append) is token
    assert got == ([token] if saved else [])
    assert plugin.seen == [token]


def test_a_resumed_action_polls_its_saved_token_without_the_handler():
    plugin = Tokens("fresh")
    driver.run(plugin, "CREATE", resuming=True, resume_token="saved")
    assert plugin.seen == ["saved"]


class FakeStore:
    """The store calls DbStorage makes; ``refuse`` makes fenced writes
    fail as they do for a run that lost the row."""

    def __init__(self, refuse=False):
        self.refuse, self.reads, self.writes = refuse, 0, []
        self.data = {"k": "v"}

    def resource_data(self, row_id):
        self.reads += 1
        return dict(self.data)

    def resource_data_set(self, row_id, fence, key, value, redact):
        self.writes.append(("set", key, value, redact))
        return not self.refuse

    def resource_data_delete(self, row_id, fence, key):
        self.writes.append(("delete", key))
        return not self.refuse

    def update_resource(self, row_id, fence, **fields):
        self.writes.append(("touch", row_id, fields))
        return not self.refuse


class Row:
    id, physical_resource_id, physical_name = 7, None, "s-r-abc"


def test_plugin_data_is_read_once_and_written_through():
    store = FakeStore()
    storage = driver.DbStorage(store, Row(), "fence")
    assert storage.data() == {"k": "v"}
    storage.data_set("a", "1")
    storage.data_set("s", "secret", redact=True)
    storage.data_delete("k")
    assert storage.data() == {"a": "1", "s": "secret"}
    assert store.reads == 1
    assert store.writes == [("set", "a", "1", False),
                            ("set", "s", "secret", True), ("delete", "k")]


def test_refused_plugin_data_writes_stop_the_run_and_change_nothing():
    storage = driver.DbStorage(FakeStore(refuse=True), Row(), "fence")
    with pytest.raises(exception.Superseded):
        storage.data_set("a", "1")
    with pytest.raises(exception.Superseded):
        storage.data_delete("k")
    assert storage.data() == {"k": "v"}


def test_a_deadline_passed_during_a_poll_fails_the_action(monkeypatch):
    """A poll that itself takes time carries the clock past the deadline,
    not onto it."""
    clock = Clock(monkeypatch)

    class SlowPolls(Slow):
        def check_create_complete(self, token):
            clock.now += 0.7
            assert len(self.polls) < 50, "polled on past the deadline"
            return super().check_create_complete(token)

    with pytest.raises(exception.Timeout):
        driver.run(SlowPolls(clock, 60.0), "CREATE", deadline=clock.now + 2)
    assert 1002.0 < clock.now < 1003.0


def test_a_run_taken_over_does_not_start_the_action(monkeypatch):
    """A conductor that was frozen between taking a row's lock and calling
    the handler wakes up to find its operation taken over: the handler is
    not called (a zombie's update would undo a rollback)."""
    clock = Clock(monkeypatch)
    plugin = Slow(clock, 1.0)
    calls = []
    plugin.handle_create = lambda: calls.append("handle")
    with pytest.raises(exception.Superseded):
        driver.run(plugin, "CREATE", taken_over=lambda: True)
    assert calls == [] and plugin.polls == []


@pytest.mark.parametrize("lost", [False, True])
def test_check_held_is_a_fenced_touch_of_the_row(lost):
    """What a nested stack resource asks before it starts an operation on
    its child: a run that lost the row must not."""
    store = FakeStore(refuse=lost)
    storage = driver.DbStorage(store, Row(), "fence")
    if lost:
        with pytest.raises(exception.Superseded):
            storage.check_held()
    else:
        storage.check_held()
    assert store.writes == [("touch", 7, {})]
