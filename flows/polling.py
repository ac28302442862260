"""When a plugin's ``check_<action>_complete`` is asked again: the default
pauses, kept apart from flows/driver.py (which applies them) so that the
API, the runners and the runtime can name the default without importing
the driver's metrics and logging (a read-only command starts without
them)."""

#: ``poll``'s default: the first pause between polls and the longest.
#: Each pause doubles the one before, so completion is seen at most about
#: twice as late as it happened, and never more than the longest pause
#: late.  A real cloud action is seconds of waiting on an API that
#: rate-limits its callers: these numbers poll an action that completes
#: after 30 s 11 times (0, 0.05, 0.15, 0.35 ... 12.75, 22.75, 32.75 s;
#: the earlier "a quarter of the time taken, 10 ms to 1 s" polled it 52
#: times), while a 50 ms action is still seen at its second poll.
POLL_INTERVAL = (0.05, 10.0)

#: How much longer each pause is than the one before.
BACKOFF = 2.0
