"""Provisioning of the test databases, run synchronously by the pytest process itself.

Nothing here runs inside a test's event loop: it happens at session start (build the
template database and migrate it once) and per xdist worker (clone the template).
"""

import asyncio
import os
{%- if cookiecutter.database == "sqlite" %}
import shutil
{%- endif %}
from collections.abc import Iterable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.settings import DATABASE_NAME

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_NAME_SUFFIX = "_test"
TEST_DATABASE_NAME = f"{DATABASE_NAME}{TEST_NAME_SUFFIX}"
{%- if cookiecutter.database == "postgresql" %}
# ssl=disable: the local test server has no TLS, and asyncpg's default (prefer) builds
# an SSL context and asks the server for TLS on every connect, which is every test.
DEFAULT_TEST_DATABASE_URL = (
    f"postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/{TEST_DATABASE_NAME}?ssl=disable"
)
{%- else %}
DEFAULT_TEST_DATABASE_URL = f"sqlite+aiosqlite:///./.test-db/{TEST_DATABASE_NAME}.db"
{%- endif %}
CONNECT_TIMEOUT_SECONDS = 3


class ProvisioningError(Exception):
    """The test databases cannot be prepared; the message says what to do."""


def database_name(url: URL) -> str:
{%- if cookiecutter.database == "postgresql" %}
    return url.database or ""
{%- else %}
    return Path(url.database or "").stem
{%- endif %}


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
{%- if cookiecutter.database == "postgresql" %}
    return url.set(database=f"{url.database}_{suffix}")
{%- else %}
    path = Path(url.database or "")
    return url.set(database=str(path.with_name(f"{path.stem}_{suffix}{path.suffix}")))
{%- endif %}


def alembic_config(url: URL) -> Config:
    """The project's alembic.ini, pointed at `url` (migrations/env.py reads the attribute)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url.render_as_string(hide_password=False)
    config.attributes["configure_logger"] = False
    return config


def migrate(url: URL) -> None:
    """Run the project's real Alembic migrations (`upgrade head`) into `url`."""
    command.upgrade(alembic_config(url), "head")
{%- if cookiecutter.database == "postgresql" %}


def _run_admin(url: URL, statements: Iterable[str]) -> None:
    """Run statements outside a transaction on the server's maintenance database."""

    async def run() -> None:
        engine = create_async_engine(
            url.set(database="postgres"),
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
        )
        try:
            async with engine.connect() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def check_server(url: URL) -> None:
    """Fail within seconds, with instructions, when the server cannot be reached."""
    try:
        _run_admin(url, ["SELECT 1"])
    except Exception as exc:  # refused, timed out, bad credentials: all mean "not usable"
        raise ProvisioningError(_unreachable(url, exc)) from exc


def _unreachable(url: URL, exc: BaseException) -> str:
    return (
        f"Cannot reach PostgreSQL at {url.render_as_string(hide_password=True)}: "
        f"{type(exc).__name__}: {exc}\n"
        "Start the test services with `make up` (docker compose -f compose.test.yaml up -d "
        "--wait), or set TEST_DATABASE_URL to a reachable server."
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_empty_database(url: URL) -> None:
    _run_admin(url, [_drop_statement(url), f"CREATE DATABASE {_quote(database_name(url))}"])


def clone_template(template: URL, target: URL) -> None:
    """A worker's own database, copied from the migrated template in milliseconds."""
    name = _quote(database_name(target))
    _run_admin(
        target,
        [
            _drop_statement(target),
            f"CREATE DATABASE {name} TEMPLATE {_quote(database_name(template))}",
            # No JIT: on tables of a few rows compiling a query costs far more than running
            # it, and asyncpg's type-introspection query (run on every new connection that
            # meets an enum or composite type, so once per test) is costly enough to get
            # compiled. Per-database settings are not copied from a template: set it here.
            f"ALTER DATABASE {name} SET jit = off",
        ],
    )


def drop_database(url: URL) -> None:
    _run_admin(url, [_drop_statement(url)])


def _drop_statement(url: URL) -> str:
    # FORCE ends sessions left behind by a run that was killed (PostgreSQL 13+).
    return f"DROP DATABASE IF EXISTS {_quote(database_name(url))} WITH (FORCE)"
{%- else %}


def check_server(url: URL) -> None:
    """SQLite has no server: make sure the directory of the database files is writable."""
    directory = Path(url.database or "").parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProvisioningError(
            f"Cannot create the test database directory {directory}: {exc}. "
            "Set TEST_DATABASE_URL to a writable location."
        ) from exc


def create_empty_database(url: URL) -> None:
    drop_database(url)


def clone_template(template: URL, target: URL) -> None:
    """A worker's own database: a copy of the migrated template file."""
    drop_database(target)
    shutil.copyfile(template.database or "", target.database or "")


def drop_database(url: URL) -> None:
    # The -wal and -shm files too: a stale WAL would be replayed into the next copy.
    path = Path(url.database or "")
    for leftover in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        leftover.unlink(missing_ok=True)
{%- endif %}


def create_template(url: URL) -> None:
    """(Re)create the template database and migrate it: once per test session."""
    create_empty_database(url)
    migrate(url)


def count_rows(url: URL, tables: Iterable[str]) -> dict[str, int]:
    """Rows left in each table: the end-of-session check that no test leaked data."""

    async def run() -> dict[str, int]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            counts: dict[str, int] = {}
            async with engine.connect() as connection:
                for table in tables:
                    # Table names come from the models' metadata, never from input.
                    statement = text(f"SELECT count(*) FROM {table}")  # noqa: S608
                    counts[table] = int(await connection.scalar(statement) or 0)
            return counts
        finally:
            await engine.dispose()

    return asyncio.run(run())


def configured_test_url() -> URL:
    """TEST_DATABASE_URL, or the default that `compose.test.yaml` serves."""
    url = make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL)
{%- if cookiecutter.database == "sqlite" %}
    # Relative paths are relative to the project, wherever pytest is started from.
    path = Path(url.database or "")
    if not path.is_absolute():
        url = url.set(database=str(PROJECT_ROOT / path))
{%- endif %}
    return url
