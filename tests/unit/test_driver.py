"""Driving one plugin action: polls that follow the time the action has
taken, deadlines, and a run that lost its operation stopping."""

import pytest

from heatflow import exception
from heatflow.flows import driver


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

    def __init__(self, clock, secs):
        self.clock, self.secs, self.polls = clock, secs, []

    def handle_create(self):
        return {"until": self.clock.now + self.secs}

    def check_create_complete(self, token):
        self.polls.append(self.clock.now)
        return self.clock.now >= token["until"] - 1e-9


def test_completion_is_seen_at_most_a_quarter_late(monkeypatch):
    for secs in (0.05, 0.3, 2.0, 7.0):
        clock = Clock(monkeypatch)
        start = clock.now
        plugin = Slow(clock, secs)
        driver.run(plugin, "CREATE", poll=(0.01, 1.0))
        seen = plugin.polls[-1] - start
        assert secs - 1e-6 <= seen <= max(secs * 1.25, secs + 0.01) + 1e-9, secs


def test_polls_are_never_further_apart_than_the_longest_interval(
        monkeypatch):
    clock = Clock(monkeypatch)
    plugin = Slow(clock, 30.0)
    driver.run(plugin, "CREATE", poll=(0.01, 1.0))
    assert clock.sleeps[0] == 0.01
    assert max(clock.sleeps) == 1.0
    # Fast at first, then a poll a second: not one per 10 ms for 30 s.
    assert len(plugin.polls) < 60


def test_the_deadline_fails_the_action(monkeypatch):
    clock = Clock(monkeypatch)
    with pytest.raises(exception.Timeout, match="too slow"):
        driver.run(Slow(clock, 10.0), "CREATE", deadline=clock.now + 2.0,
                   timeout_message="too slow")
    assert clock.now == pytest.approx(1002.0)


def test_a_run_taken_over_stops_before_its_next_poll(monkeypatch):
    clock = Clock(monkeypatch)
    plugin = Slow(clock, 60.0)
    with pytest.raises(exception.Superseded):
        driver.run(plugin, "CREATE",
                   taken_over=lambda: len(plugin.polls) >= 3)
    # Asked after every poll but the last one made: no poll after it.
    assert len(plugin.polls) == 3
