"""Database schema managed with Alembic (``akto_data/migrations/``).

``python -m akto_data.migrate`` upgrades the configured database to the latest
schema; ``python -m akto_data.migrate revision "message"`` writes a new migration
from the difference between the models and the database (review it before commit).
Works on SQLite (embedded default) and PostgreSQL (production).
"""

from __future__ import annotations

import fcntl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from akto_data.settings import load_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: PostgreSQL advisory lock key held while the schema is brought up to date.
MIGRATION_LOCK = 1_404_202_614


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", (url or load_settings().database_url).replace("%", "%%"))
    return config


def upgrade(url: str | None = None) -> None:
    """Bring the database to the latest schema (creates it from scratch if empty)."""
    from akto_data.db import get_engine

    config = alembic_config(url)
    with _one_at_a_time(url):
        tables = set(inspect(get_engine(url)).get_table_names())
        if "alembic_version" not in tables and "app_button_payload" in tables:
            # A database created before migrations existed: it has the first revision's schema.
            command.stamp(config, "0001")
        # "heads": features developed side by side each add a migration after the same
        # parent; every branch is applied (a merge revision joins them when convenient).
        command.upgrade(config, "heads")


@contextmanager
def _one_at_a_time(url: str | None) -> Iterator[None]:
    """One process at a time brings the schema up to date: two bot processes (or a bot and the
    console) starting together on a new database both saw it empty and both created the tables,
    and the second one died ("table ... already exists")."""
    from akto_data.db import get_engine

    engine = get_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def main(argv: list[str]) -> int:
    if argv[:1] == ["revision"]:
        command.revision(alembic_config(), message=" ".join(argv[1:]) or "change", autogenerate=True)
    else:
        upgrade()
        print("Schéma de la base à jour.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
