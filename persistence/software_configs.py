"""Software configs: Heat's store of configuration scripts that servers
fetch (``OS::Heat::SoftwareConfig``, ``CloudConfig``, ``MultipartMime``,
``SoftwareComponent`` make them through ``rpc_client()``; see
heatflow/rpc_client.py).

A config is immutable once made, belongs to the project of the request
context that made it (None without one), and outlives no stack on its
own: the resource that made it deletes it.  Another project's config is
"not found", except to an admin (Heat's rule).  The script, its inputs,
outputs and options are one sealed column: encrypted when the database
has a key, as a template is.
"""

import sqlalchemy as sa

from heatflow import exception
from heatflow.persistence import models as m
from heatflow.persistence.sql import Base, new_id, utcnow

T = m.software_configs


class SoftwareConfigNotFound(exception.NotFound):
    """What Heat's engine raises for an unknown config: plugins ignore it
    by the name ``NotFound``."""


def _visible(project, admin):
    if admin:
        return sa.true()
    if project is None:
        return T.c.project.is_(None)
    return T.c.project == project


class SoftwareConfigs(Base):
    """Reads and writes of the ``hf_software_configs`` table (a base of
    :class:`store.Store`: ``db.store.create_software_config(...)``)."""

    def create_software_config(self, *, project, name, group, config):
        """A new config; its row as a mapping.  ``config``: the JSON data
        (``{"config", "inputs", "outputs", "options"}``)."""
        values = {"id": new_id(), "project": project, "name": name,
                  "group": group, "config": config,
                  "created_at": utcnow()}
        with self.engine.begin() as conn:
            conn.execute(T.insert().values(**values))
        return values

    def get_software_config(self, config_id, *, project, admin=False):
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(T).where(
                T.c.id == str(config_id),
                _visible(project, admin))).one_or_none()
        if row is None:
            raise SoftwareConfigNotFound(
                "Software config %s not found" % config_id)
        return row._mapping

    def list_software_configs(self, *, project, admin=False, limit=None,
                              marker=None):
        """Oldest first, from after ``marker`` (a config id) on."""
        query = sa.select(T).where(_visible(project, admin))
        with self.engine.connect() as conn:
            if marker is not None:
                after = conn.execute(sa.select(T.c.created_at, T.c.id).where(
                    T.c.id == marker)).one_or_none()
                if after is None:
                    raise SoftwareConfigNotFound(
                        "Software config %s not found" % marker)
                query = query.where(sa.tuple_(T.c.created_at, T.c.id) >
                                    sa.tuple_(*after))
            query = query.order_by(T.c.created_at, T.c.id)
            if limit is not None:
                query = query.limit(int(limit))
            return [r._mapping for r in conn.execute(query)]

    def delete_software_config(self, config_id, *, project, admin=False):
        """SoftwareConfigNotFound when there is no such config visible to
        ``project``."""
        with self.engine.begin() as conn:
            res = conn.execute(T.delete().where(
                T.c.id == str(config_id), _visible(project, admin)))
        if res.rowcount != 1:
            raise SoftwareConfigNotFound(
                "Software config %s not found" % config_id)
