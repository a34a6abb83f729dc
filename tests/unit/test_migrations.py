"""The schema is managed by Alembic migrations, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from akto_data.db import dispose_engines
from akto_data.migrate import alembic_config, upgrade
from tests.conftest import POSTGRES_URL


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_fresh_database_is_migrated_to_exactly_the_models(db, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'fresh.db'}" if db == "sqlite" else POSTGRES_URL
    if db == "postgres":
        request.getfixturevalue("postgres_db")  # skips, with the reason, where no PostgreSQL answers
        engine = create_engine(POSTGRES_URL)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
        dispose_engines()
    upgrade(url)
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"app_button_payload", "app_feedback", "app_unanswered", "cat_aid", "cat_faq", "alembic_version"} <= tables
    command.check(alembic_config(url))  # raises if the models and the migrated schema differ
    upgrade(url)  # idempotent


def test_migrations_never_touch_rasas_tracker_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE events (id INTEGER PRIMARY KEY, data TEXT)")
    upgrade(url)
    command.check(alembic_config(url))  # Rasa's table is not seen as something to drop
    assert "events" in inspect(create_engine(url)).get_table_names()
