"""Secrets stay secret: hidden parameters are shown as ****** wherever
heatflow shows them (stack show through the API and the command line,
events, status reasons, logs, validation errors, dry-run plans), never go
into ZooKeeper job details, and database URLs are logged without their
password.

With an encryption key configured, the database holds no secret in clear
either: the files themselves are searched for it."""

import io
import json
import logging

import pytest

import heatflow
from heatflow import cli
from heatflow import exception
from heatflow import jobs
from heatflow.flows import plan as plan_mod
from heatflow.persistence import database
from heatflow.persistence import sealing

SECRET = "hunter2-Zq9x-SECRET"
HIDDEN = "******"

TEMPLATE = """
heat_template_version: 2021-04-16
parameters:
  pw:
    type: string
    hidden: true
    constraints:
      - length: {min: 8}
  user:
    type: string
    default: admin
resources:
  rand:
    type: OS::Heat::RandomString
    properties:
      length: 12
      salt: {get_param: pw}
  tr:
    type: OS::Heat::TestResource
    properties:
      value: {list_join: ['-', [{get_param: user}, {get_param: pw}]]}
      fail: {get_param: fail}
outputs:
  user:
    value: {get_param: user}
"""


def template(fail=False):
    return TEMPLATE.replace(
        "parameters:\n",
        "parameters:\n  fail:\n    type: boolean\n    default: %s\n"
        % ("true" if fail else "false"), 1)


def assert_clean(text, where=""):
    assert SECRET not in text, "secret leaked in %s: %s" % (where, text)


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    rc = cli.main(list(argv), out, err)
    return rc, out.getvalue(), err.getvalue()


def _everything_shown(orch, name):
    stack = orch.get_stack(name)
    parts = [repr(stack.parameters), stack.status_reason,
             repr(stack.outputs), repr(stack.output_details)]
    for r in orch.list_resources(name):
        parts += [r.status_reason, repr(r.attributes)]
    for e in orch.list_events(name):
        parts.append(e.reason)
    return stack, "\n".join(parts)


def test_stack_show_events_and_logs(orch, caplog):
    caplog.set_level(logging.DEBUG)
    stack = orch.create_stack("s", template(),
                              parameters={"pw": SECRET}).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    stack, shown = _everything_shown(orch, "s")
    assert stack.parameters["pw"] == HIDDEN
    assert_clean(shown, "stack/resources/events")
    assert_clean(caplog.text, "logs")


def test_failed_stack_reasons_do_not_echo(orch, caplog):
    caplog.set_level(logging.DEBUG)
    stack = orch.create_stack("s", template(fail=True),
                              parameters={"pw": SECRET}).wait(60)
    assert stack.stack_status == "CREATE_FAILED"
    stack, shown = _everything_shown(orch, "s")
    assert stack.parameters["pw"] == HIDDEN
    assert_clean(shown, "stack/resources/events")
    assert_clean(caplog.text, "logs")


def test_update_keeps_the_value_hidden(orch):
    orch.create_stack("s", template(), parameters={"pw": SECRET}).wait(60)
    new = SECRET + "-2"
    stack = orch.update_stack("s", template(),
                              parameters={"pw": new}).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    stack, shown = _everything_shown(orch, "s")
    assert stack.parameters["pw"] == HIDDEN
    assert_clean(shown)
    assert new not in shown


@pytest.mark.parametrize("spelling", ["'yes'", "1", "'on'", "True"])
def test_hidden_spelled_otherwise_is_hidden(orch, spelling):
    text = template().replace("hidden: true", "hidden: %s" % spelling)
    orch.create_stack("s", text, parameters={"pw": SECRET}).wait(60)
    stack = orch.get_stack("s")
    assert stack.parameters["pw"] == HIDDEN
    assert_clean(json.dumps(stack.parameters))


def test_cli_stack_show_json_and_lists(db_url, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(template())
    rc, out, err = run_cli("--db-url", db_url, "stack", "create", "s", "-t",
                           str(path), "--parameter", "pw=" + SECRET,
                           "--wait")
    assert rc == 0, err
    assert_clean(out + err, "stack create")
    rc, out, err = run_cli("--db-url", db_url, "-f", "json", "stack",
                           "show", "s")
    assert rc == 0, err
    shown = json.loads(out)
    assert shown["parameters"]["pw"] == HIDDEN
    assert_clean(out + err, "stack show")
    for command in (["stack", "show", "s"], ["stack", "event", "list", "s"],
                    ["stack", "resource", "list", "s"], ["stack", "list"],
                    ["stack", "output", "show", "s", "--all"]):
        for fmt in ("json", "yaml", "table"):
            rc, out, err = run_cli("--db-url", db_url, "-f", fmt, *command)
            assert rc == 0, err
            assert_clean(out + err, " ".join(command))


@pytest.mark.parametrize("value, constraint", [
    ("short", "length: {min: 8}"),
    (SECRET, "length: {max: 3}"),
    (SECRET, "allowed_pattern: '[0-9]+'"),
    (SECRET, "allowed_values: [a, b]"),
])
def test_validation_errors_do_not_echo(orch, db_url, tmp_path, value,
                                       constraint):
    text = template().replace("length: {min: 8}", constraint)
    with pytest.raises(exception.StackValidationFailed) as info:
        orch.create_stack("s", text, parameters={"pw": value})
    assert info.value.path == "parameters.pw"
    assert value not in str(info.value)
    path = tmp_path / "t.yaml"
    path.write_text(text)
    rc, out, err = run_cli("--db-url", db_url, "stack", "create", "s",
                           "-t", str(path), "--parameter", "pw=" + value)
    assert rc == 1 and err.startswith("ERROR: parameters.pw")
    assert value not in out + err


def test_property_errors_do_not_echo(orch):
    """A hidden value that reaches a property of the wrong type is masked
    in the error the property check raises."""
    text = template().replace("length: 12", "length: {get_param: pw}")
    with pytest.raises(exception.StackValidationFailed) as info:
        orch.create_stack("s", text, parameters={"pw": SECRET})
    assert info.value.path == "resources.rand.properties.length"
    assert_clean(str(info.value))
    assert HIDDEN in str(info.value)


def test_dry_run_plans(orch, db_url, tmp_path):
    plan = orch.preview_create("s", template(), parameters={"pw": SECRET})
    assert {p["resource_name"] for p in plan} == {"rand", "tr"}
    assert_clean(json.dumps(plan), "preview_create")
    orch.create_stack("s", template(), parameters={"pw": SECRET}).wait(60)
    plan = orch.preview_update("s", template(),
                               parameters={"pw": SECRET + "-new"})
    assert_clean(json.dumps(plan), "preview_update")
    assert SECRET + "-new" not in json.dumps(plan)
    path = tmp_path / "t.yaml"
    path.write_text(template())
    for verb, name in (("create", "s2"), ("update", "s")):
        rc, out, err = run_cli("--db-url", db_url, "-f", "json", "stack",
                               verb, name, "-t", str(path), "--parameter",
                               "pw=" + SECRET + "-cli", "--dry-run")
        assert rc == 0, err
        json.loads(out)
        assert SECRET not in out + err


def test_job_details_hold_only_ids():
    op = plan_mod.OperationHeader(stack_id="sid", traversal="tid",
                                  flow_uuid="fid", action="CREATE",
                                  stack_name="s", template_id=3, run="r")
    assert jobs.job_details(op) == {"stack_id": "sid", "traversal": "tid",
                                    "flow_uuid": "fid"}


def test_zookeeper_job_znodes_hold_no_secret(zk_hosts, zk_path, zk_client,
                                             db_url):
    """The job an Orchestrator posts (no conductor runs it here) names only
    ids; nothing under heatflow's ZooKeeper root contains the value."""
    zk_client.ensure_path(zk_path)
    orch = heatflow.Orchestrator(db_url=db_url, zookeeper=zk_hosts + zk_path)
    try:
        orch.create_stack("s", template(), parameters={"pw": SECRET})
        dumped = []

        def walk(path):
            data, _ = zk_client.get(path)
            dumped.append(data or b"")
            for child in zk_client.get_children(path):
                walk(path + "/" + child)

        walk(zk_path)
        jobs_dir = zk_path + jobs.jobs_path()
        names = [n for n in zk_client.get_children(jobs_dir)
                 if n.startswith("job") and not n.endswith(".lock")]
        assert names
        details = json.loads(zk_client.get(jobs_dir + "/" + names[0])[0])
        assert set(details["details"]) == {"stack_id", "traversal",
                                           "flow_uuid"}
        assert all(SECRET.encode() not in d for d in dumped)
    finally:
        orch.close()


# -- database URLs -----------------------------------------------------------

PG_URL = "postgresql+psycopg2://heatflow:hunter2pw@127.0.0.1:1/nodb"


def test_safe_url_masks_the_password():
    shown = database.safe_url(PG_URL)
    assert "hunter2pw" not in shown
    assert "heatflow:***@127.0.0.1:1/nodb" in shown
    assert "hunter2pw" not in database.safe_url("not a url :hunter2pw@")


def test_unreachable_database_error_hides_the_password(caplog):
    caplog.set_level(logging.DEBUG)
    rc, out, err = run_cli("--db-url", PG_URL, "stack", "list")
    assert rc == 1
    assert err.startswith("ERROR:")
    assert "hunter2pw" not in out + err
    assert "hunter2pw" not in caplog.text
    rc, out, err = run_cli("--db-url", PG_URL, "db", "upgrade")
    assert rc == 1
    assert "hunter2pw" not in out + err


def test_conductor_logs_the_url_without_password(zk_hosts, zk_path,
                                                 zk_client, postgres,
                                                 caplog):
    """The conductor's start-up line names the database (masked)."""
    import threading
    from heatflow.runners import conductor as conductor_mod
    postgres.ensure_running()
    name = "t_secret_%s" % zk_path.rsplit("-", 1)[-1]
    url = postgres.create_database(name)
    try:
        from sqlalchemy.engine import make_url
        u = make_url(url)
        if not u.password:
            # the test server trusts local connections: any password
            # connects, and must not be logged
            u = u.set(password="pg-hunter2-pw")
            url = u.render_as_string(hide_password=False)
        zk_client.ensure_path(zk_path)
        caplog.set_level(logging.DEBUG)
        cond = conductor_mod.Conductor(url, zk_hosts + zk_path,
                                       name="secret-cond")
        thread = threading.Thread(target=cond.run, daemon=True)
        thread.start()
        cond.stop()
        thread.join(30)
        cond.close()
        assert "secret-cond started" in caplog.text
        assert u.password not in caplog.text
    finally:
        postgres.drop_database(name)


# -- encryption at rest -------------------------------------------------------

def _database_bytes(db_url):
    """Everything SQLite has on disk for the database (file and WAL)."""
    path = db_url[len("sqlite:///"):]
    data = b""
    for suffix in ("", "-wal"):
        try:
            with open(path + suffix, "rb") as f:
                data += f.read()
        except FileNotFoundError:
            pass
    assert data
    return data


def _run_story(orch, secret):
    """Create, update (which rewrites every sealed column) and show."""
    stack = orch.create_stack("s", template(),
                              parameters={"pw": secret}).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    stack = orch.update_stack("s", template(),
                              parameters={"pw": secret + "-2"}).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    return orch.get_stack("s")


def test_without_a_key_the_database_holds_secrets_in_clear(db_url):
    # the control for the next test: the search below would find it
    with heatflow.Orchestrator(db_url) as orch:
        _run_story(orch, SECRET)
    assert SECRET.encode() in _database_bytes(db_url)


def test_with_a_key_no_secret_reaches_the_disk(db_url):
    key = sealing.generate_key()
    with heatflow.Orchestrator(db_url, encryption_key=key) as orch:
        stack = _run_story(orch, SECRET)
        # read back through the key: all there
        assert stack.outputs == {"user": "admin"}
        rows = orch.db.store.list_resources(stack.id)
        assert {r.name: r.properties.get("value") for r in rows} == {
            "rand": None, "tr": "admin-" + SECRET + "-2"}
        plan = orch.preview_update("s", template(),
                                   parameters={"pw": SECRET + "-3"})
        assert {e["resource_name"]: e["action"] for e in plan} == {
            "rand": "replace", "tr": "update"}
    data = _database_bytes(db_url)
    assert SECRET.encode() not in data
    # not merely encoded differently: the values' JSON is sealed
    assert b'"$sealed"' in data
    assert b"admin-" not in data


def test_encrypted_stacks_need_the_key(db_url, monkeypatch):
    key, other = sealing.generate_key(), sealing.generate_key()
    with heatflow.Orchestrator(db_url, encryption_key=key) as orch:
        _run_story(orch, SECRET)
    monkeypatch.delenv(sealing.ENV_KEY, raising=False)
    with heatflow.Orchestrator(db_url, resume=False) as orch:
        with pytest.raises(exception.EncryptionKeyError) as info:
            orch.get_stack("s")
        assert "no encryption key is configured (set " \
            "HEATFLOW_ENCRYPTION_KEY)" in str(info.value)
    with heatflow.Orchestrator(db_url, resume=False,
                               encryption_key=other) as orch:
        with pytest.raises(exception.EncryptionKeyError) as info:
            orch.get_stack("s")
        assert "cannot be decrypted" in str(info.value)
    # the command line: one line, no traceback, no key echoed
    monkeypatch.setenv(sealing.ENV_KEY, other)
    rc, out, err = run_cli("--db-url", db_url, "stack", "show", "s")
    assert rc == 1 and out == ""
    assert err.startswith("ERROR: stored data cannot be decrypted")
    assert other not in err and len(err.splitlines()) == 1
    # rotation: a new key first, the old one after it
    monkeypatch.setenv(sealing.ENV_KEY, "%s,%s" % (other, key))
    with heatflow.Orchestrator(db_url, resume=False) as orch:
        assert orch.get_stack("s").parameters["pw"] == HIDDEN
        stack = orch.update_stack("s", existing=True).wait(60)
        assert stack.stack_status == "UPDATE_COMPLETE"
    # what was written since opens with the new key alone
    with heatflow.Orchestrator(db_url, resume=False,
                               encryption_key=other) as orch:
        assert orch.get_stack("s").stack_status == "UPDATE_COMPLETE"


@pytest.mark.parametrize("bad", ["short", "x" * 44, ","])
def test_malformed_keys_are_refused_without_echo(bad, db_url):
    with pytest.raises(exception.EncryptionKeyError) as info:
        heatflow.Orchestrator(db_url, encryption_key=bad)
    if bad.strip(","):
        assert bad not in str(info.value)


def test_cli_generate_key(db_url, monkeypatch):
    rc, out, err = run_cli("db", "generate-key")
    assert rc == 0 and "HEATFLOW_ENCRYPTION_KEY" in err
    key = out.strip()
    assert len(out.splitlines()) == 1
    monkeypatch.setenv(sealing.ENV_KEY, key)
    path = db_url[len("sqlite:///"):]
    tmpl = path + ".yaml"
    with open(tmpl, "w") as f:
        f.write(template())
    rc, out, err = run_cli("--db-url", db_url, "stack", "create", "s", "-t",
                           tmpl, "--parameter", "pw=" + SECRET, "--wait")
    assert rc == 0, err
    assert SECRET.encode() not in _database_bytes(db_url)
