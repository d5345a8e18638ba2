"""Alembic environment: migrations always run on a connection handed in by storage.migrate."""
from alembic import context

from storage.models import Base, UTCDateTime

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `kring migrate` (storage.migrate.upgrade)")


def render_item(type_, obj, autogen_context):  # noqa: ANN001
    """Migrations stay plain SQLAlchemy: our UTC wrapper is a DateTime(timezone=True) column."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
