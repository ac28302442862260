"""Log lines carry the operation they are about, also from the pool
threads that run a flow's atoms, and read as one JSON object each."""

import io
import json
import logging

from heatflow import logs


def _logger(stream):
    log = logging.getLogger("heatflow.test_logs")
    log.handlers[:] = [logs.json_handler(stream)]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log


def test_fields_bound_here_and_in_pool_threads_reach_each_line():
    stream = io.StringIO()
    log = _logger(stream)
    pool = logs.ContextPool(2)
    try:
        with logs.context(stack="web", action="UPDATE", traversal="t1"):
            log.info("engine thread")
            pool.submit(log.info, "atom thread").result()
            with logs.context(resource="db"):
                pool.submit(log.info, "plugin action").result()
        log.info("after the operation")
        pool.submit(log.info, "a later task").result()
    finally:
        pool.shutdown()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_message = {line["message"]: line for line in lines}
    for message in ("engine thread", "atom thread"):
        line = by_message[message]
        assert (line["stack"], line["action"], line["traversal"]) == \
            ("web", "UPDATE", "t1")
        assert "resource" not in line
    assert by_message["plugin action"]["resource"] == "db"
    for message in ("after the operation", "a later task"):
        assert not set(logs.FIELDS) & set(by_message[message])
    assert by_message["engine thread"]["level"] == "INFO"
    assert by_message["engine thread"]["logger"] == "heatflow.test_logs"


def test_a_traceback_stays_in_its_line():
    stream = io.StringIO()
    log = _logger(stream)
    try:
        {}["missing"]
    except KeyError:
        log.exception("plugin failed")
    (line,) = stream.getvalue().splitlines()
    data = json.loads(line)
    assert "KeyError: 'missing'" in data["traceback"]
