"""Schema migrations of heatflow's own tables (alembic).

Kept in their own version table so that they never collide with TaskFlow's
migrations, which use alembic's default one on the same database.
"""

import os

from alembic import command
from alembic.config import Config

VERSION_TABLE = "heatflow_alembic_version"
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "migrations")


def _config(connection):
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPTS)
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine, revision="head"):
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)


def current(engine):
    from alembic.migration import MigrationContext
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()
