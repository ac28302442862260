"""Dependency graphs between resources: cycles and a topological order."""

from heatflow import exception


def find_cycle(graph, order=None):
    """Return a cycle in ``graph`` as a list [a, b, ..., a], or None.

    ``graph`` maps a name to the names it requires.  The walk follows
    ``order`` (template order) so the reported cycle is deterministic, and
    the cycle is rotated to start at its earliest member in that order.
    """
    order = list(order) if order is not None else list(graph)
    rank = {name: i for i, name in enumerate(order)}
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {name: WHITE for name in graph}
    for root in order:
        if colour.get(root) != WHITE:
            continue
        colour[root] = GREY
        path = [root]
        iters = [iter(sorted(graph.get(root, ()),
                             key=lambda n: rank.get(n, len(rank))))]
        while iters:
            try:
                nxt = next(iters[-1])
            except StopIteration:
                colour[path.pop()] = BLACK
                iters.pop()
                continue
            state = colour.get(nxt)
            if state == GREY:
                cycle = path[path.index(nxt):]
                start = min(range(len(cycle)),
                            key=lambda i: rank.get(cycle[i], len(rank)))
                cycle = cycle[start:] + cycle[:start]
                return cycle + [cycle[0]]
            if state == WHITE:
                colour[nxt] = GREY
                path.append(nxt)
                iters.append(iter(sorted(
                    graph.get(nxt, ()),
                    key=lambda n: rank.get(n, len(rank)))))
    return None


def check_acyclic(graph, order=None, path=("resources",)):
    cycle = find_cycle(graph, order)
    if cycle is not None:
        raise exception.StackValidationFailed(
            "dependency cycle: %s" % " -> ".join(cycle), path)


def topological_order(graph, order=None):
    """Names with every requirement before its dependents (Kahn's method)."""
    order = list(order) if order is not None else list(graph)
    check_acyclic(graph, order)
    remaining = {n: set(graph.get(n, ())) & set(graph) for n in order}
    out = []
    ready = [n for n in order if not remaining[n]]
    dependents = {n: [] for n in order}
    for n in order:
        for req in remaining[n]:
            dependents[req].append(n)
    while ready:
        n = ready.pop(0)
        out.append(n)
        for d in dependents[n]:
            remaining[d].discard(n)
            if not remaining[d]:
                ready.append(d)
    return out
