"""Alembic environment: our metadata, the configured database, batch mode for SQLite."""

from __future__ import annotations

from alembic import context

# Imported for their side effect: each registers its tables with Base.metadata.
import akto_data.analytics.models
import akto_data.catalogue.tables
import akto_data.catalogue.version_models
import akto_data.cfa.models
import akto_data.leads.models
import akto_data.staff.models
import akto_data.takeover.models
import akto_data.training.models  # noqa: F401
from akto_data.db import get_engine
from akto_data.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    connectable = config.attributes.get("connection") or get_engine(url)
    if hasattr(connectable, "connect") and not hasattr(connectable, "in_transaction"):
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def ours(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """Ignore tables that are not ours: in the embedded default, Rasa's tracker store
    (``events``) shares the SQLite file, and a migration must never drop it."""
    return not (type_ == "table" and reflected and compare_to is None)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=ours,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
