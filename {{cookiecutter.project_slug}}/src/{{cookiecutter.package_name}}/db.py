"""Engine and session construction, and the `get_session` dependency.

Nothing here is created at import time: the application's lifespan builds the engine,
so each app (and each test) owns one engine on its own event loop.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated{% if cookiecutter.database == "sqlite" %}, cast{% endif %}

from fastapi import Depends, Request
{%- if cookiecutter.database == "sqlite" %}
from sqlalchemy import Connection, event
from sqlalchemy.engine import AdaptedConnection
from sqlalchemy.engine.interfaces import DBAPIConnection
{%- endif %}
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
{%- if cookiecutter.database == "sqlite" %}
from sqlalchemy.pool import ConnectionPoolEntry
{%- endif %}

from .settings import DatabaseSettings


@dataclass(frozen=True, slots=True)
class Database:
    """The engine and the session factory bound to it, alive for one lifespan."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
{%- if cookiecutter.database == "postgresql" %}
    """Build the engine; no connection is opened until the first query."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_pre_ping=True,
        echo=settings.db_echo,
    )
{%- else %}
    """Build the engine; no connection is opened until the first query."""
    engine = create_async_engine(settings.database_url, echo=settings.db_echo)
    _enable_sqlite_transactions(engine)
    return engine


def _enable_sqlite_transactions(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the sqlite3 driver, decide where transactions begin.

    The driver otherwise defers BEGIN and silently ignores SAVEPOINT semantics, so a
    rolled-back outer transaction would NOT undo a nested commit (SQLAlchemy's documented
    pysqlite recipe). Foreign keys are off in SQLite unless asked for. WAL lets readers
    and a writer work at once instead of failing with "database is locked".
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        # One script, one trip to aiosqlite's thread: through a cursor, each call (cursor,
        # execute, fetch, close) is a trip of its own, and a new connection opens per test.
        cast(AdaptedConnection, dbapi_connection).run_async(
            lambda driver: driver.executescript("PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL;")
        )

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")
{%- endif %}


def create_database(settings: DatabaseSettings) -> Database:
    engine = create_engine(settings)
    # expire_on_commit=False: objects stay readable after commit without a lazy
    # load, which in async code would raise MissingGreenlet.
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False))


def database_of(request: Request) -> Database:
    database: Database | None = getattr(request.app.state, "database", None)
    if database is None:
        raise RuntimeError("The application's lifespan has not run: no database.")
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; tests replace this dependency to share their connection."""
    async with database_of(request).sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
