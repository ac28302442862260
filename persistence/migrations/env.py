"""alembic environment: always run online, on the connection migrate.py
hands over."""

from alembic import context

from heatflow.persistence import migrate
from heatflow.persistence import models

connection = context.config.attributes["connection"]
context.configure(connection=connection,
                  target_metadata=models.metadata,
                  version_table=migrate.VERSION_TABLE,
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
