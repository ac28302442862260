"""Schema migrations of heatflow's own tables (alembic).

Kept in their own version table so that they never collide with TaskFlow's
migrations, which use alembic's default one on the same database.
"""

import os

# alembic is imported by the functions that migrate: opening a database
# whose schema is current only reads the version tables (see
# database.Database.schema_is_current), and a read-only command should not
# pay for importing alembic.

VERSION_TABLE = "heatflow_alembic_version"
#: The newest of heatflow's revisions (migrations/versions/); a unit test
#: holds it to the scripts.
HEAD = "0006"
#: TaskFlow's tables and, where TaskFlow migrates them with alembic (not on
#: SQLite, where it creates them from its metadata), the newest revision
#: of the TaskFlow heatflow runs against, in alembic's default version
#: table.  A TaskFlow with a newer one only makes every open run the
#: migrations (which find nothing to do); a unit test says so.
TASKFLOW_TABLES = ("logbooks", "flowdetails", "atomdetails")
TASKFLOW_VERSION_TABLE = "alembic_version"
TASKFLOW_HEAD = "00af93df9d77"
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "migrations")


def _config(connection):
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPTS)
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine, revision="head"):
    from alembic import command
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)


def current(engine):
    from alembic.migration import MigrationContext
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()
