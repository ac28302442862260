"""Resources keep the before-image of an update in place.

Written when an update takes the row's lock, before the plugin acts, so a
rollback can undo an update whose result TaskFlow never recorded (the
process died between the two commits).

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # Sealed in the models: JSON, or ciphertext in JSON when encrypted.
    op.add_column("hf_resources",
                  sa.Column("before_image", sa.JSON, nullable=True))


def downgrade():
    op.drop_column("hf_resources", "before_image")
