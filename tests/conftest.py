"""Shared fixtures: each test gets its own SQLite file unless it asks for PostgreSQL."""

from __future__ import annotations

import os

import pytest

from akto_data.db import create_schema, dispose_engines


@pytest.fixture
def sqlite_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'test.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    dispose_engines()
    create_schema()
    yield url
    dispose_engines()


POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_unreachable(url: str = POSTGRES_URL) -> str | None:
    """Why PostgreSQL cannot be used here, or None when a server answers at ``url``.

    The embedded default needs no PostgreSQL (README), so a machine without one skips
    the production-setting tests with this reason instead of failing them.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        return f"PostgreSQL not reachable at {engine.url.render_as_string(hide_password=True)} " \
               f"(set TEST_POSTGRES_URL to run these tests): {str(exc.orig).strip().splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@pytest.fixture(scope="session")
def postgres_available() -> None:
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def postgres_db(monkeypatch, postgres_available):
    """The real PostgreSQL of the machine (production setting); tables reset per test."""
    from sqlalchemy import create_engine

    from akto_data.models import Base

    engine = create_engine(POSTGRES_URL)
    import akto_data.analytics.models
    import akto_data.catalogue.tables
    import akto_data.catalogue.version_models
    import akto_data.cfa.models
    import akto_data.leads.models  # and the lead tables
    import akto_data.staff.models
    import akto_data.takeover.models
    import akto_data.training.models  # noqa: F401

    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    dispose_engines()
    create_schema()
    yield POSTGRES_URL
    dispose_engines()


@pytest.fixture
def catalogue(sqlite_db):
    """A fresh SQLite database with the real catalogue (content/) imported."""
    from akto_data.catalogue.importer import import_catalogue

    import_catalogue()
    return sqlite_db


@pytest.fixture
def catalogue_postgres(postgres_db):
    """The real PostgreSQL with the catalogue imported (production setting)."""
    from akto_data.catalogue.importer import import_catalogue

    import_catalogue()
    return postgres_db


@pytest.fixture
def cat(catalogue):
    """The imported catalogue read through one session, as an action's unit of work reads it."""
    from akto_data.catalogue.queries import Catalogue
    from akto_data.db import session_scope

    with session_scope() as session:
        yield Catalogue(session)


@pytest.fixture
def smtp_inbox():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 collecting what it receives: (inbox, port)."""
    from aiosmtpd.controller import Controller

    from tests.unit.test_lead_delivery import Inbox, free_port

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
