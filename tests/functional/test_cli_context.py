"""The request context on the command line: ``--context FILE``, the
openstack client's ``--os-*`` options and ``OS_*`` variables, the token
only from ``OS_TOKEN`` or the file; what the plugins of the operation the
command starts (in its detached worker) see as ``self.context``."""

import json

import pytest

import heatflow
from tests import conftest

TEMPLATE = """\
heat_template_version: 2018-08-31
resources:
  r:
    type: Test::Caller
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    return tmp_path


def callers(cloud):
    return [j["props"] for j in cloud.journal() if j["event"] == "caller"]


def test_options_variables_and_file_make_the_context(run, files, cloud,
                                                     monkeypatch):
    monkeypatch.setenv(heatflow.ENCRYPTION_KEY_ENV,
                       heatflow.generate_encryption_key())
    (files / "ctx.yaml").write_text(
        "user_id: from-file\nproject_id: p-file\nroles: [member]\n")
    monkeypatch.setenv("OS_PROJECT_ID", "p-env")
    monkeypatch.setenv("OS_TOKEN", "tok-env-0123456789")
    code, out, err = run("--plugin-dir", conftest.PLUGIN_DIR, "stack",
                         "create", "s", "-t", "t.yaml", "--wait",
                         "--context", "ctx.yaml")
    assert code == 0, err
    # The variable wins over the file; the token travels sealed to the
    # worker that runs the create.
    assert callers(cloud) == [{"user_id": "from-file", "project_id": "p-env",
                               "token": "tok-env-0123456789"}]
    # An option wins over both.
    code, out, err = run("--plugin-dir", conftest.PLUGIN_DIR, "stack",
                         "create", "s2", "-t", "t.yaml", "--wait",
                         "--context", "ctx.yaml", "--os-project-id", "p-opt")
    assert code == 0, err
    assert callers(cloud)[-1]["project_id"] == "p-opt"


def test_without_any_the_operation_has_no_context(run, files, cloud):
    code, out, err = run("--plugin-dir", conftest.PLUGIN_DIR, "stack",
                         "create", "s", "-t", "t.yaml", "--wait")
    assert code == 0, err
    assert callers(cloud) == [None]


def test_update_and_delete_take_it_too(run, files, cloud):
    assert run("stack", "create", "s", "-t", "t.yaml", "--wait",
               "--plugin-dir", conftest.PLUGIN_DIR)[0] == 0
    (files / "t2.yaml").write_text(TEMPLATE + "  r2:\n    type: Test::Caller\n")
    code, out, err = run("--plugin-dir", conftest.PLUGIN_DIR, "stack",
                         "update", "s", "-t", "t2.yaml", "--wait",
                         "--os-user-id", "bob", "--os-project-id", "p-2")
    assert code == 0, err
    assert callers(cloud) == [None, {"user_id": "bob", "project_id": "p-2",
                                     "token": None}]
    code, out, err = run("--plugin-dir", conftest.PLUGIN_DIR, "stack",
                         "delete", "s", "-y", "--wait",
                         "--os-user-id", "carol")
    assert code == 0, err
    assert [j["props"] for j in cloud.journal()
            if j["event"] == "caller_delete"] == [
        {"user_id": "carol", "project_id": None, "token": None}] * 2


@pytest.mark.parametrize("argv,message", [
    (["--os-token", "secret"],
     "--os-token/--os-auth-token refused: a token on the command line is "
     "visible to every user of this machine; put it in the environment "
     "variable OS_TOKEN or in the --context file"),
    (["--context", "nope.yaml"], "cannot read context file nope.yaml"),
    (["--context", "list.yaml"],
     "context file list.yaml must hold a map of the context's fields"),
    (["--context", "bad.yaml"],
     "context file bad.yaml is not JSON or YAML"),
    (["--context", "unknown.yaml"],
     "context file unknown.yaml: unknown field(s) token"),
    (["--context", "roles.yaml"],
     "context roles must be a list of role names"),
])
def test_a_bad_context_is_refused_before_anything_is_written(
        run, files, cloud, argv, message):
    (files / "list.yaml").write_text("[a, b]\n")
    (files / "bad.yaml").write_text("a: [\n")
    (files / "unknown.yaml").write_text('{"token": "x"}\n')
    (files / "roles.yaml").write_text("roles: admin\n")
    code, out, err = run("--plugin-dir", conftest.PLUGIN_DIR, "stack",
                         "create", "s", "-t", "t.yaml", *argv)
    assert code != 0
    assert message in err
    code, out, err = run("stack", "list", "-f", "json")
    assert json.loads(out) == []
    assert callers(cloud) == []
