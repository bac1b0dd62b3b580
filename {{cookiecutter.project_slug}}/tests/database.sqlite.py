"""Provisioning of the test databases (SQLite files), run synchronously by pytest itself.

Nothing here runs inside a test's event loop: it happens at session start (build the
template file and migrate it once) and per xdist worker (copy the template file).
Statements are SQLAlchemy constructs, so a table named like a keyword (`order`) works.
"""

import asyncio
import os
import shutil
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from . import project

TEST_NAME_SUFFIX = "_test"
DEFAULT_TEST_DATABASE_URL = f"sqlite+aiosqlite:///./.test-db/{project.TEST_DATABASE_NAME}.db"
# The committed-rows check after each test runs as any connection does: the app's engine
# begins every transaction itself (db.py), and in autocommit its cleanup would not commit.
CHECK_OPTIONS: dict[str, str] = {}


class ProvisioningError(Exception):
    """The test databases cannot be prepared; the message says what to do."""


def configured_test_url() -> URL:
    """TEST_DATABASE_URL, or the default file under the project's `.test-db/`."""
    url = make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL)
    # Relative paths are relative to the project, wherever pytest is started from.
    path = Path(url.database or "")
    if not path.is_absolute():
        url = url.set(database=str(project.PROJECT_ROOT / path))
    return url


def database_name(url: URL) -> str:
    return Path(url.database or "").stem


def require_test_database(url: URL) -> None:
    """Refuse any database whose name does not say it is disposable."""
    name = database_name(url)
    if not name.endswith(TEST_NAME_SUFFIX):
        raise ProvisioningError(
            f"Refusing to run: the test database {name!r} (from TEST_DATABASE_URL) does not "
            f"end in {TEST_NAME_SUFFIX!r}. The suite creates and deletes files derived "
            "from this name; point TEST_DATABASE_URL at a database meant for tests, e.g. "
            f"{DEFAULT_TEST_DATABASE_URL}"
        )


def derived_url(url: URL, suffix: str) -> URL:
    """The URL of a database file named after the test database: `<name>_<suffix>.db`."""
    path = Path(url.database or "")
    return url.set(database=str(path.with_name(f"{path.stem}_{suffix}{path.suffix}")))


def alembic_config(url: URL) -> Config:
    """The project's alembic.ini, pointed at `url` (migrations/env.py reads the attribute)."""
    config = Config(str(project.ALEMBIC_INI))
    config.attributes["database_url"] = url.render_as_string(hide_password=False)
    config.attributes["configure_logger"] = False
    return config


def migrate(url: URL) -> None:
    """Run the project's real Alembic migrations (`upgrade head`) into `url`."""
    command.upgrade(alembic_config(url), "head")


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


def database_exists(url: URL) -> bool:
    return Path(url.database or "").exists()


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
    """Remove every row a committing test left. SQLite has no TRUNCATE: children first."""
    for table in reversed(metadata.sorted_tables):
        await connection.execute(table.delete())
