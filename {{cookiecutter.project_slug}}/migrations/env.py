"""Alembic environment: async engine, URL from the settings (or from the caller).

Tests pass the URL of their own database in `config.attributes["database_url"]`.
`asyncio.run` below means migrations must be started from synchronous code, outside
any running event loop (the test suite does so at session start).
"""

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.settings import DatabaseSettings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


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
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
