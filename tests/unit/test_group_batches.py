"""ResourceGroup's batches (heatflow.plugins.group_batches): a rolling
update, followed batch by batch, ends with every member on the new
definition, never changes more than a batch at once, and keeps the
members it must in service."""

import pytest

from heatflow.plugins import group_batches as gb
from heatflow.plugins import member_stack

OLD, NEW = {"type": "old"}, {"type": "new"}


def test_batch_create():
    assert gb.batches(5, 0, 2, 0) == [(2, 2), (4, 2), (5, 1)]
    assert gb.batches(3, 0, 5, 0) == [(3, 3)]


def test_rolling_update_steps():
    assert gb.batches(4, 4, 2, 0) == [(4, 2), (4, 2)]
    # Keeping 3 of 4 in service while 2 change: one extra member.
    assert gb.batches(4, 4, 2, 3) == [(5, 2), (5, 2), (4, 1)]
    assert gb.batches(0, 0, 1, 0) == []


def test_the_highest_names_change_first():
    members = gb.batch_members(["0", "1", "2", "3"],
                               [(n, OLD) for n in "0123"], NEW, 4, 2)
    assert members == [("3", NEW), ("2", NEW), ("1", OLD), ("0", OLD)]


def test_members_not_in_the_group_go_first():
    members = gb.batch_members(["0", "1"],
                               [(n, OLD) for n in "012"], NEW, 2, 0)
    assert sorted(members) == [("0", OLD), ("1", OLD)]


def roll(target, current, batch_size, min_in_service, removed=()):
    """Follow a rolling update from ``current`` old members; the states
    it goes through."""
    state = {n: OLD for n in member_stack.member_names(current, removed)}
    states = [state]
    for capacity, fresh in gb.batches(target, current, batch_size,
                                      min_in_service):
        names = member_stack.member_names(capacity, removed)
        existing = sorted(state.items(),
                          key=lambda item: member_stack.name_order(item[0]))
        state = dict(gb.batch_members(names, existing, NEW, target, fresh))
        states.append(state)
    return states


@pytest.mark.parametrize("target, current, batch_size, min_in_service", [
    (4, 4, 1, 0), (4, 4, 2, 0), (4, 4, 2, 3), (4, 4, 4, 4), (2, 2, 1, 2),
    (5, 3, 2, 1), (3, 5, 2, 2), (1, 4, 3, 0), (6, 6, 4, 5), (0, 3, 1, 1),
])
def test_rolling_update_converges_in_batches(target, current, batch_size,
                                             min_in_service):
    states = roll(target, current, batch_size, min_in_service, {"1"})
    assert states[-1] == {
        n: NEW for n in member_stack.member_names(target, {"1"})}
    for before, after in zip(states, states[1:]):
        changed = [n for n, d in after.items() if before.get(n) != d]
        assert len(changed) <= batch_size
        in_service = [n for n, d in after.items() if before.get(n) == d]
        assert len(in_service) >= min(min_in_service, target, len(before))
