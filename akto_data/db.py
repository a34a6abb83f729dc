"""Database engine and sessions.

One engine per process, created lazily from ``DATABASE_URL``. SQLite (the embedded
default) is shared with Rasa's tracker store, so it runs in WAL mode with a busy
timeout: readers never block the writer and short write bursts wait instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from akto_data.settings import load_settings

_engines: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """Return the process-wide engine for ``url`` (default: the configured one)."""
    url = url or load_settings().database_url
    engine = _engines.get(url)
    if engine is None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: an error's text must not quote the row (name, phone, message).
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        _engines[url] = engine
    return engine


_schema_ready: set[str] = set()


def create_schema(engine: Engine | None = None) -> None:
    """Bring the database to the latest schema with the Alembic migrations (idempotent)."""
    from akto_data.migrate import upgrade

    engine = engine or get_engine()
    upgrade(engine.url.render_as_string(hide_password=False))
    _schema_ready.add(engine.url.render_as_string(hide_password=False))


def ensure_schema() -> None:
    """:func:`create_schema` once per process and database, for writers started on their own."""
    url = load_settings().database_url
    if url not in _schema_ready:
        create_schema()
        _schema_ready.add(url)


_factories: dict[Engine, sessionmaker[Session]] = {}


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: a session whose transaction commits on success and rolls back on
    any error. Open it once per action or handler and pass the session down."""
    engine = engine or get_engine()
    factory = _factories.get(engine)
    if factory is None:  # one factory per engine, made once
        factory = _factories[engine] = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def dispose_engines() -> None:
    """Close every pooled connection (tests switching databases, clean shutdown)."""
    from akto_data.catalogue.cache import forget

    forget()  # the catalogue kept in memory belonged to those databases
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _factories.clear()
    _schema_ready.clear()


def on_server(url: str, *statements: str) -> None:
    """Run ``statements`` on the PostgreSQL server of ``url``, from its ``postgres`` database.

    ``CREATE`` / ``DROP DATABASE`` cannot run inside the database they name, nor in a
    transaction: the benchmarks (``make console-bench``, ``make load --topology``) recreate
    their scratch databases this way. Errors are the caller's to tell.
    """
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        admin.dispose()


def recreate_database_statements(url: str) -> tuple[str, str]:
    """DROP (with its sessions) then CREATE of the database ``url`` names, for :func:`on_server`."""
    name = make_url(url).database
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
