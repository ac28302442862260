"""``self.rpc_client()`` of a plugin: the part of Heat's engine API that
resource plugins call, served by heatflow's own database.

Heat's software-config resources store their configs through it::

    sc = self.rpc_client().create_software_config(self.context, **props)
    self.resource_id_set(sc[rpc_api.SOFTWARE_CONFIG_ID])
    ...
    with self.rpc_client().ignore_error_by_name('NotFound'):
        self.rpc_client().delete_software_config(self.context, config_id)

Each call takes the request context first, as Heat's do: a config belongs
to the context's project, and another project's is not found (except by
an admin).  The engine hands plugins a client on the stack's database
(``self.stack`` carries the store); a plugin built without the engine
(``for_test``, the dry run) gets one on memory.
"""

import contextlib
import datetime
import uuid

from heatflow import exception
from heatflow import rpc_api
from heatflow import software_config_io as swc_io

_K = rpc_api


class NotFound(exception.NotFound):
    """A software config that is not there (or not the caller's)."""


class MemoryConfigs:
    """The config store of a plugin built without the engine: the
    database's interface (persistence/software_configs.py), on a dict."""

    def __init__(self):
        self._rows = {}

    def create_software_config(self, *, project, name, group, config):
        row = {"id": str(uuid.uuid4()), "project": project, "name": name,
               "group": group, "config": config,
               "created_at": datetime.datetime.utcnow()}
        self._rows[row["id"]] = row
        return row

    def _visible(self, project, admin):
        return [r for r in self._rows.values()
                if admin or r["project"] == project]

    def get_software_config(self, config_id, *, project, admin=False):
        for row in self._visible(project, admin):
            if row["id"] == str(config_id):
                return row
        raise NotFound("Software config %s not found" % config_id)

    def list_software_configs(self, *, project, admin=False, limit=None,
                              marker=None):
        rows = sorted(self._visible(project, admin),
                      key=lambda r: (r["created_at"], r["id"]))
        if marker is not None:
            ids = [r["id"] for r in rows]
            if marker not in ids:
                raise NotFound("Software config %s not found" % marker)
            rows = rows[ids.index(marker) + 1:]
        return rows if limit is None else rows[:int(limit)]

    def delete_software_config(self, config_id, *, project, admin=False):
        row = self.get_software_config(config_id, project=project,
                                       admin=admin)
        del self._rows[row["id"]]


def _owner(cnxt):
    return (getattr(cnxt, "project_id", None),
            bool(getattr(cnxt, "is_admin", False)))


def _formatted(row, detail=True, project=False):
    """A config as Heat's engine API gives it."""
    created = row["created_at"]
    out = {_K.SOFTWARE_CONFIG_ID: row["id"],
           _K.SOFTWARE_CONFIG_NAME: row["name"],
           _K.SOFTWARE_CONFIG_GROUP: row["group"],
           _K.SOFTWARE_CONFIG_CREATION_TIME:
               created.replace(microsecond=0).isoformat()
               if created is not None else None}
    if detail:
        for key in (_K.SOFTWARE_CONFIG_CONFIG, _K.SOFTWARE_CONFIG_INPUTS,
                    _K.SOFTWARE_CONFIG_OUTPUTS, _K.SOFTWARE_CONFIG_OPTIONS):
            out[key] = row["config"].get(key)
    if project:
        out[_K.SOFTWARE_CONFIG_PROJECT] = row["project"]
    return out


class EngineClient:
    """Heat's ``EngineClient``, its software-config calls.  ``configs``:
    the store (``db.store`` or :class:`MemoryConfigs`)."""

    def __init__(self, configs):
        self._configs = configs

    def create_software_config(self, cnxt, group, name, config,
                               inputs=None, outputs=None, options=None):
        """Store a new config; it as :meth:`show_software_config` gives
        it.  Inputs and outputs are checked and normalised as Heat does
        (ValueError or TypeError naming the bad one)."""
        project, _ = _owner(cnxt)
        data = {
            _K.SOFTWARE_CONFIG_CONFIG: config,
            _K.SOFTWARE_CONFIG_INPUTS: swc_io.normalised(
                inputs or [], swc_io.input_config_schema, "inputs"),
            _K.SOFTWARE_CONFIG_OUTPUTS: swc_io.normalised(
                outputs or [], swc_io.output_config_schema, "outputs"),
            _K.SOFTWARE_CONFIG_OPTIONS: options or {},
        }
        row = self._configs.create_software_config(
            project=project, name=name, group=group, config=data)
        return _formatted(row)

    def show_software_config(self, cnxt, config_id):
        project, admin = _owner(cnxt)
        return _formatted(self._configs.get_software_config(
            config_id, project=project, admin=admin))

    def list_software_configs(self, cnxt, limit=None, marker=None):
        project, admin = _owner(cnxt)
        return [_formatted(r, detail=False, project=admin)
                for r in self._configs.list_software_configs(
                    project=project, admin=admin, limit=limit,
                    marker=marker)]

    def delete_software_config(self, cnxt, config_id):
        project, admin = _owner(cnxt)
        self._configs.delete_software_config(config_id, project=project,
                                             admin=admin)

    @contextlib.contextmanager
    def ignore_error_by_name(self, name):
        """Swallow an exception whose class, or one of its bases, is
        called ``name`` (Heat's: ``'NotFound'``)."""
        try:
            yield
        except Exception as exc:
            if name not in [c.__name__ for c in type(exc).__mro__]:
                raise
