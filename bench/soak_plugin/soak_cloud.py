"""The chaos soak's cloud: physical resources are files in a directory.

``Soak::Thing`` is a plugin written the way the documentation asks of a
real one: its idempotency key is ``physical_resource_name()``.  The
physical id *is* that name, so a create that is retried or resumed finds
the resource it made before and adopts it instead of making a second one.
A create is a blocking call (``delay`` seconds, the resource appearing
half-way through) before the id is recorded, as with a real cloud's API.
Every physical action (create, adopt, update, delete) is appended to a
journal and fsync'ed before the plugin returns, with the process id and
the time, so the soak can tell afterwards who did what and when,
independently of heatflow's own records.

The directory is ``$HEATFLOW_SOAK_CLOUD``, shared by the soak and its
conductor processes (found through ``HEATFLOW_PLUGIN_DIRS``).  Actions
take ``delay`` seconds of wall time by polling, so a fault can land while
one is in flight.  Changing ``size`` replaces the resource; ``label``,
``ref`` and ``delay`` are updated in place.
"""

import json
import os
import time

from heatflow import attributes, exception, properties, resource

ENV = "HEATFLOW_SOAK_CLOUD"
JOURNAL = "journal"
COMPARED = ("label", "size", "ref")


def cloud_dir():
    path = os.environ.get(ENV)
    if not path:
        raise RuntimeError("%s is not set" % ENV)
    os.makedirs(path, exist_ok=True)
    return path


def journal_append(event, physical_id, stack, name, props=None):
    """One line per physical action, on disk before this returns."""
    line = json.dumps({"event": event, "id": physical_id, "stack": stack,
                       "resource": name, "props": props, "pid": os.getpid(),
                       "time": time.time()}) + "\n"
    fd = os.open(os.path.join(cloud_dir(), JOURNAL),
                 os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def journal():
    try:
        with open(os.path.join(cloud_dir(), JOURNAL)) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]
    except FileNotFoundError:
        return []


def reality():
    """physical id -> the resource (stack, resource and properties) of
    everything that exists."""
    out = {}
    base = cloud_dir()
    for name in os.listdir(base):
        if name.startswith("res."):
            try:
                with open(os.path.join(base, name)) as f:
                    out[name[4:]] = json.load(f)
            except (OSError, ValueError):
                continue      # deleted while we looked
    return out


def forget(physical_id):
    """Remove a resource behind the plugin's back (the soak's clean-up of
    what a trial leaked)."""
    try:
        os.unlink(_path(physical_id))
    except FileNotFoundError:
        pass


def _path(physical_id):
    return os.path.join(cloud_dir(), "res." + physical_id)


class Thing(resource.Resource):
    properties_schema = {
        "label": properties.Schema(properties.Schema.STRING,
                                   "Updated in place.", default="",
                                   update_allowed=True),
        "size": properties.Schema(properties.Schema.INTEGER,
                                  "Changing it replaces the thing.",
                                  default=1),
        "ref": properties.Schema(properties.Schema.ANY,
                                 "What the thing refers to.",
                                 update_allowed=True),
        "delay": properties.Schema(properties.Schema.NUMBER,
                                   "Seconds each action takes.",
                                   default=0, update_allowed=True),
    }
    attributes_schema = {
        "label": attributes.Schema("The label, read from the cloud."),
        "size": attributes.Schema("The size, read from the cloud."),
    }

    def _props(self):
        props = {k: self.properties[k] for k in COMPARED}
        props.update(stack=self.stack_name, resource=self.name)
        return props

    def _write(self, physical_id):
        props = self._props()
        # Written aside, then renamed: a call killed half way leaves a
        # file that is not a resource (reality() reads only "res.*").
        tmp = os.path.join(cloud_dir(), ".new-%s.%d" % (physical_id,
                                                        os.getpid()))
        with open(tmp, "w") as f:
            json.dump(props, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, _path(physical_id))
        return props

    def _journal(self, event, physical_id, props=None):
        journal_append(event, physical_id, self.stack_name, self.name, props)

    def _token(self):
        return {"until": time.time() + float(self.properties["delay"] or 0)}

    def _latency(self):
        """Half of a cloud API call's round trip (blocking, as a client
        library's call is)."""
        time.sleep(float(self.properties["delay"] or 0) / 2)

    def handle_create(self):
        # The call is made with the idempotency key; the resource comes
        # to exist half-way through it, and its id is known (and
        # recorded) only when the call returns.
        key = self.physical_resource_name()
        self._latency()
        if os.path.exists(_path(key)):
            self._journal("adopt", key)
        else:
            self._journal("create", key, self._write(key))
        self._latency()
        self.resource_id_set(key)
        return self._token()

    def check_create_complete(self, token):
        if token is None:
            # Resumed after the id was recorded but not the token: the
            # create is finished when the resource exists.
            if not os.path.exists(_path(self.resource_id)):
                self._journal("create", self.resource_id,
                              self._write(self.resource_id))
            return True
        return time.time() >= token["until"]

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if "size" in prop_diff:
            raise exception.UpdateReplace(self.name)
        self._journal("update", self.resource_id,
                      self._write(self.resource_id))
        return self._token()

    def check_update_complete(self, token):
        return token is None or time.time() >= token["until"]

    def handle_delete(self):
        # No id recorded: the create may still have made the resource
        # before its engine died (ids are known only when the call
        # returns); the idempotency key finds it.
        key = self.resource_id or self.physical_resource_name()
        try:
            os.unlink(_path(key))
        except FileNotFoundError:
            return None       # already gone: deleting is idempotent
        self._journal("delete", key)
        return self._token()

    def check_delete_complete(self, token):
        return token is None or time.time() >= token["until"]

    def _resolve_attribute(self, name):
        if name in ("label", "size"):
            try:
                with open(_path(self.resource_id)) as f:
                    return json.load(f)[name]
            except (OSError, ValueError, TypeError):
                return self.properties[name]
        return None


def resource_mapping():
    return {"Soak::Thing": Thing}
