"""Provisioning of the test databases (PostgreSQL), run synchronously by pytest itself.

Nothing here runs inside a test's event loop: it happens at session start (build the
template database and migrate it once) and per xdist worker (clone the template).
Every statement is built from quoted identifiers or SQLAlchemy constructs, so a table or
database named like a keyword (`user`, `order`) works.
"""

import asyncio
import os
from collections.abc import Iterable

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from . import project

TEST_NAME_SUFFIX = "_test"
# ssl=disable: the local test server has no TLS, and asyncpg's default (prefer) asks the
# server for TLS on every connect, which is every test.
DEFAULT_TEST_DATABASE_URL = (
    "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/"
    f"{project.TEST_DATABASE_NAME}?ssl=disable"
)
CONNECT_TIMEOUT_SECONDS = 3
# The committed-rows check after each test only reads, so it needs no transaction:
# autocommit spares it a BEGIN and a ROLLBACK round trip.
CHECK_OPTIONS: dict[str, str] = {"isolation_level": "AUTOCOMMIT"}


class ProvisioningError(Exception):
    """The test databases cannot be prepared; the message says what to do."""


def configured_test_url() -> URL:
    """TEST_DATABASE_URL, or the default that `compose.test.yaml` serves."""
    return make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL)


def database_name(url: URL) -> str:
    return url.database or ""


def require_test_database(url: URL) -> None:
    """Refuse any database whose name does not say it is disposable."""
    name = database_name(url)
    if not name.endswith(TEST_NAME_SUFFIX):
        raise ProvisioningError(
            f"Refusing to run: the test database {name!r} (from TEST_DATABASE_URL) does not "
            f"end in {TEST_NAME_SUFFIX!r}. The suite creates and drops databases derived "
            "from this name; point TEST_DATABASE_URL at a database meant for tests, e.g. "
            f"{DEFAULT_TEST_DATABASE_URL}"
        )


def derived_url(url: URL, suffix: str) -> URL:
    """The URL of a database named after the test database: `<name>_<suffix>`."""
    return url.set(database=f"{url.database}_{suffix}")


def alembic_config(url: URL) -> Config:
    """The project's alembic.ini, pointed at `url` (migrations/env.py reads the attribute)."""
    config = Config(str(project.ALEMBIC_INI))
    config.attributes["database_url"] = url.render_as_string(hide_password=False)
    config.attributes["configure_logger"] = False
    return config


def migrate(url: URL) -> None:
    """Run the project's real Alembic migrations (`upgrade head`) into `url`."""
    command.upgrade(alembic_config(url), "head")


def run_admin(url: URL, statements: Iterable[str]) -> object:
    """Run statements outside a transaction on the server's maintenance database; return
    the first value the last one answers (None when it answers no rows)."""

    async def run() -> object:
        engine = create_async_engine(
            url.set(database="postgres"),
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
        )
        try:
            answer = None
            async with engine.connect() as connection:
                for statement in statements:
                    result = await connection.execute(text(statement))
                    answer = result.scalar() if result.returns_rows else None
            return answer
        finally:
            await engine.dispose()

    return asyncio.run(run())


def check_server(url: URL) -> None:
    """Fail within seconds, with instructions, when the server cannot be reached."""
    try:
        run_admin(url, ["SELECT 1"])
    except Exception as exc:  # refused, timed out, bad credentials: all mean "not usable"
        raise ProvisioningError(
            f"Cannot reach PostgreSQL at {url.render_as_string(hide_password=True)}: "
            f"{type(exc).__name__}: {exc}\n"
            "Start the test services with `make up` (docker compose -f compose.test.yaml up "
            "-d --wait), or set TEST_DATABASE_URL to a reachable server."
        ) from exc


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def end_sessions_on(url: URL) -> None:
    """End every other session on url's database (a pooler's idle ones, say), waiting up
    to 5 s for each to exit: a database cannot be renamed while anyone is connected."""
    run_admin(
        url,
        [
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "  # noqa: S608
            f"WHERE datname = {quote_literal(database_name(url))} AND pid <> pg_backend_pid()"
        ],
    )


def _drop_statement(url: URL) -> str:
    # FORCE ends sessions left behind by a run that was killed (PostgreSQL 13+).
    return f"DROP DATABASE IF EXISTS {quote(database_name(url))} WITH (FORCE)"


def create_empty_database(url: URL) -> None:
    run_admin(url, [_drop_statement(url), f"CREATE DATABASE {quote(database_name(url))}"])


def clone_template(template: URL, target: URL) -> None:
    """A worker's own database, copied from the migrated template in milliseconds."""
    name = quote(database_name(target))
    run_admin(
        target,
        [
            _drop_statement(target),
            f"CREATE DATABASE {name} TEMPLATE {quote(database_name(template))}",
        ],
    )


def drop_database(url: URL) -> None:
    run_admin(url, [_drop_statement(url)])


def list_databases(url: URL) -> list[str]:
    """The names of every database on the server of `url`."""

    async def run() -> list[str]:
        engine = create_async_engine(url.set(database="postgres"), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text("SELECT datname FROM pg_database"))
                return sorted(name for (name,) in result)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def database_exists(url: URL) -> bool:
    return database_name(url) in list_databases(url)


def empty_database(url: URL, metadata: MetaData) -> None:
    """Empty every table of the metadata and restart its sequences, as if new."""

    async def run() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                await empty_tables(connection, metadata)
        finally:
            await engine.dispose()

    asyncio.run(run())


def tables_with_rows(url: URL, metadata: MetaData) -> dict[str, int]:
    """Tables that are not empty, with their row counts: a test leaked data into them."""

    async def run() -> dict[str, int]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                counts = {
                    table.name: await connection.scalar(select(func.count()).select_from(table))
                    for table in metadata.sorted_tables
                }
            return {table: int(rows) for table, rows in counts.items() if rows}
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def empty_tables(connection: AsyncConnection, metadata: MetaData) -> None:
    """Remove every row a committing test left, and reset the sequences."""
    quote = connection.dialect.identifier_preparer.format_table
    tables = ", ".join(quote(table) for table in metadata.sorted_tables)
    await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
