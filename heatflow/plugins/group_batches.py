"""ResourceGroup's update policies: members created (``batch_create``) or
brought to a new definition (``rolling_update``) a batch at a time, as a
sequence of child templates, each applied once the one before has
settled and the pause has passed.

A batch is ``(capacity, fresh)``: the group has ``capacity`` members
during it, ``fresh`` of which are new members or members given the new
definition in it.  Which members those are follows Heat's order: members
to be removed go first, then the highest names within the group's size;
members beyond it are kept (to keep enough in service) and removed last.
"""


def batches(target, current, batch_size, min_in_service):
    """[(capacity, fresh)] taking a group of ``current`` members, none of
    them up to date, to ``target`` up-to-date members, at most
    ``batch_size`` at a time and never fewer than ``min_in_service``
    members (nor than the group has or will have) in service."""
    steps, up_to_date = [], 0
    while not (up_to_date >= current == target):
        fresh = min(batch_size, max(target - up_to_date, 0))
        in_service = min(min_in_service, target, current)
        capacity = fresh + max(min(current, target - fresh), in_service)
        steps.append((capacity, fresh))
        # Fresh members beyond what the group keeps are removed again.
        up_to_date += fresh - max(capacity - max(current, target), 0)
        current = capacity
    return steps


def batch_members(names, existing, new_defn, target, fresh):
    """[(name, definition)] of one batch: ``names`` the group's names for
    the batch's capacity (in order), ``existing`` [(name, definition)] of
    the members there now, ``new_defn`` the definition to roll out,
    ``target`` the group's size, ``fresh`` how many members the batch may
    create or give ``new_defn``."""
    capacity = len(names)
    position = {name: i for i, name in enumerate(names)}

    def removal_order(member):
        index = position.get(member[0])
        if index is None:
            return (0, 0)                     # not in the group: first
        if index < target:
            return (1, target - index)        # the highest names first
        return (2, 0)                         # beyond the size: last
    kept = sorted(existing, key=removal_order)[-capacity:] \
        if capacity else []
    taken = {name for name, _ in kept}
    new_names = iter(n for n in names if n not in taken)
    to_change = fresh - (capacity - len(kept))
    members = []
    for name, defn in kept:
        if defn != new_defn and to_change > 0:
            to_change -= 1
            defn = new_defn
        members.append((name, defn))
    members += [(next(new_names), new_defn)
                for _ in range(capacity - len(kept))]
    return members
