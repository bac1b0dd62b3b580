"""Alembic environment: async engine, URL from the settings (or from the caller).

Tests pass the URL of their own database in `config.attributes["database_url"]`.
`asyncio.run` below means migrations must be started from synchronous code, outside
any running event loop (the test suite does so at session start).
"""

import asyncio
from logging.config import fileConfig

from alembic import context
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
{%- else %}
from sqlalchemy.engine import Connection
{%- endif %}
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.settings import DatabaseSettings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
{%- if cookiecutter.database == "postgresql" %}
UNKNOWN_DATABASE = "3D000"  # SQLSTATE invalid_catalog_name
{%- endif %}


def database_url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else DatabaseSettings().database_url


def configure(connection: Connection | None = None) -> None:
    context.configure(
        url=None if connection else database_url(),
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
{%- if cookiecutter.database == "sqlite" %}
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=True,
{%- endif %}
    )


def run_offline() -> None:
    configure()
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(database_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
{%- if cookiecutter.database == "postgresql" %}
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != UNKNOWN_DATABASE:
            raise
        # A new server (`make up`, a fresh cluster): create the empty database, then migrate.
        await _create_database(engine.url)
        await run_online()
{%- endif %}
    finally:
        await engine.dispose()
{%- if cookiecutter.database == "postgresql" %}


async def _create_database(url: URL) -> None:
    engine = create_async_engine(
        url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(url.database or "")
            await connection.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        await engine.dispose()
{%- endif %}


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
