"""A test cloud: physical resources are files in a directory.

``Test::Thing`` creates a file per physical resource and deletes it again,
checks it is still there (``stack check``), suspends and resumes it (a
journal entry each), and appends every physical create and delete to a
journal, so tests can
check reality (what exists, with which properties) and count duplicates and
leaks independently of heatflow's own records.  The directory comes from
the ``HEATFLOW_TEST_CLOUD`` environment variable, so conductor and worker
processes share it with the test.
"""

import json
import os
import time
import uuid

from heatflow import attributes, exception, properties, resource


def cloud_dir():
    path = os.environ.get("HEATFLOW_TEST_CLOUD")
    if not path:
        raise RuntimeError("HEATFLOW_TEST_CLOUD is not set")
    os.makedirs(path, exist_ok=True)
    return path


def _journal(event, physical_id, props=None, name="journal"):
    with open(os.path.join(cloud_dir(), name), "a") as f:
        f.write(json.dumps({"event": event, "id": physical_id,
                            "props": props, "pid": os.getpid(),
                            "time": time.time()}) + "\n")
        f.flush()
        os.fsync(f.fileno())


def calls():
    """Every plugin call (handlers and polls), with pid and time."""
    path = os.path.join(cloud_dir(), "calls")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def journal():
    path = os.path.join(cloud_dir(), "journal")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def reality():
    """physical id -> properties of every resource that exists."""
    out = {}
    for name in os.listdir(cloud_dir()):
        if name.startswith("thing-"):
            try:
                with open(os.path.join(cloud_dir(), name)) as f:
                    out[name] = json.load(f)
            except FileNotFoundError:
                pass        # deleted since the listing: it no longer exists
    return out


class Thing(resource.Resource):
    properties_schema = {
        "name": properties.Schema(properties.Schema.STRING, "A label.",
                                  default="", update_allowed=True),
        "size": properties.Schema(properties.Schema.INTEGER,
                                  "Changing it replaces the thing.",
                                  default=1),
        "ref": properties.Schema(properties.Schema.ANY,
                                 "Whatever the thing refers to.",
                                 update_allowed=True),
        "delay": properties.Schema(properties.Schema.NUMBER,
                                   "Seconds each action takes.",
                                   default=0, update_allowed=True),
        "fail": properties.Schema(properties.Schema.BOOLEAN,
                                  "Fail create and update.", default=False,
                                  update_allowed=True),
        "fail_delete": properties.Schema(properties.Schema.BOOLEAN,
                                         "Fail delete.", default=False,
                                         update_allowed=True),
        "fail_first": properties.Schema(properties.Schema.INTEGER,
                                        "Fail this many create attempts "
                                        "(counted per name) first.",
                                        default=0, update_allowed=True),
        "delete_delay": properties.Schema(properties.Schema.NUMBER,
                                          "Seconds a delete takes.",
                                          default=0, update_allowed=True),
    }
    attributes_schema = {
        "name": attributes.Schema("The label."),
        "size": attributes.Schema("The size."),
    }

    def _path(self, physical_id=None):
        return os.path.join(cloud_dir(), physical_id or self.resource_id)

    def _write(self):
        props = {k: self.properties[k] for k in ("name", "size", "ref")}
        tmp = self._path() + ".tmp"
        with open(tmp, "w") as f:
            json.dump(props, f)
        os.replace(tmp, self._path())
        return props

    def handle_create(self):
        tries = sum(1 for j in journal() if j["event"] == "attempt" and
                    j["id"] == self.properties["name"])
        _journal("attempt", self.properties["name"],
                 {k: self.properties[k] for k in ("name", "size", "delay")})
        if tries < self.properties["fail_first"]:
            raise exception.HeatflowError("attempt %d failed" % (tries + 1))
        if self.properties["fail"]:
            raise exception.HeatflowError("thing %s refused to be created"
                                          % self.name)
        self.resource_id_set("thing-" + uuid.uuid4().hex[:12])
        _journal("create", self.resource_id, self._write())
        return {"until": time.time() + float(self.properties["delay"])}

    def check_create_complete(self, token):
        _journal("check_create", self.resource_id, name="calls")
        if token is None:
            # Resumed after the engine died between recording the physical
            # id and recording the token: finish the create idempotently.
            if not os.path.exists(self._path()):
                _journal("create", self.resource_id, self._write())
            return True
        return time.time() >= token["until"]

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if "size" in prop_diff:
            raise exception.UpdateReplace(self.name)
        if self.properties["fail"]:
            raise exception.HeatflowError("thing %s refused to be updated"
                                          % self.name)
        _journal("update", self.resource_id, self._write())
        return {"until": time.time() + float(self.properties["delay"])}

    def check_update_complete(self, token):
        _journal("check_update", self.resource_id, name="calls")
        return time.time() >= token["until"]

    def handle_delete(self):
        if self.properties["fail_delete"]:
            raise exception.HeatflowError("thing %s refused to go"
                                          % self.name)
        if self.resource_id is None:
            return None
        try:
            os.unlink(self._path())
        except FileNotFoundError:
            return None  # already gone: deleting is idempotent
        _journal("delete", self.resource_id)
        return {"until": time.time() +
                float(self.properties["delete_delay"] or 0)}

    def check_delete_complete(self, token):
        _journal("check_delete", self.resource_id, name="calls")
        return token is None or time.time() >= token["until"]

    def _resolve_attribute(self, name):
        if name in ("name", "size"):
            return self.properties[name]
        return None

    def handle_check(self):
        _journal("check", self.resource_id, name="calls")
        if self.resource_id is None or not os.path.exists(self._path()):
            raise exception.HeatflowError("thing %s is gone"
                                          % self.resource_id)

    def _pause(self, event):
        _journal(event, self.resource_id, {"name": self.properties["name"]})
        return {"until": time.time() + float(self.properties["delay"])}

    def handle_suspend(self):
        return self._pause("suspend")

    def check_suspend_complete(self, token):
        return token is None or time.time() >= token["until"]

    def handle_resume(self):
        return self._pause("resume")

    check_resume_complete = check_suspend_complete


class SlowThing(Thing):
    """A create as a real cloud call makes it: the physical resource exists
    at once, its id is learned when the call returns ``create_delay``
    seconds later.  With ``by_name`` the handler first looks for what an
    earlier attempt made under its ``physical_resource_name()`` (the
    documented idempotency key) and adopts it."""

    properties_schema = dict(
        Thing.properties_schema,
        create_delay=properties.Schema(properties.Schema.NUMBER,
                                       "Seconds the create call takes.",
                                       default=0),
        by_name=properties.Schema(properties.Schema.BOOLEAN,
                                  "Adopt what has this incarnation's "
                                  "physical name.", default=False))

    def handle_create(self):
        pname = self.physical_resource_name()
        if self.properties["by_name"]:
            for physical_id, props in reality().items():
                if props.get("pname") == pname:
                    self.resource_id_set(physical_id)
                    return None
        physical_id = "thing-" + uuid.uuid4().hex[:12]
        props = {k: self.properties[k] for k in ("name", "size", "ref")}
        props["pname"] = pname
        tmp = os.path.join(cloud_dir(), ".new-" + physical_id)
        with open(tmp, "w") as f:
            json.dump(props, f)
        os.replace(tmp, self._path(physical_id))
        _journal("create", physical_id, props)
        time.sleep(float(self.properties["create_delay"]))
        self.resource_id_set(physical_id)
        return None

    def handle_delete(self):
        if self.resource_id is None and self.properties["by_name"]:
            # No id recorded: the create may have made it all the same.
            pname = self.physical_resource_name()
            for physical_id, props in reality().items():
                if props.get("pname") == pname:
                    self.resource_id_set(physical_id)
        return super().handle_delete()


class Caller(resource.Resource):
    """Journals the request context its create ran with (its token as
    whether there was one), wherever it ran."""

    def _journal(self, event):
        ctx = self.context
        _journal(event, os.getpid(), None if ctx is None else {
            "user_id": ctx.user_id, "project_id": ctx.project_id,
            "token": ctx.auth_token})

    def handle_create(self):
        self._journal("caller")

    def handle_delete(self):
        self._journal("caller_delete")


def resource_mapping():
    return {"Test::Thing": Thing, "Test::SlowThing": SlowThing,
            "Test::Caller": Caller}
