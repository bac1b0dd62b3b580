"""Every trick that exists only to make the suite faster, and nothing else.

The pattern the guide teaches (conftest.py, database.py) works without this module:
`TEST_SPEEDUPS=0 uv run pytest` turns every trick off and the suite still passes. Each
trick says what it saves (measured with `benchmarks/run.py` on a 2-core machine, local
PostgreSQL 15) and what it assumes. Registered as a pytest plugin by the conftest.
"""

import gc
import inspect
import os
from collections.abc import Callable
from typing import Any, ClassVar, cast

import pytest
from sqlalchemy.dialects import registry
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
{%- else %}
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
{%- endif %}
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy.engine import URL, Connection
from sqlalchemy.engine.interfaces import DBAPIConnection

from . import database

ProjectDialect = PGDialect_asyncpg
DRIVER = "postgresql.asyncpg"
{%- else %}
from sqlalchemy.engine import Connection

ProjectDialect = SQLiteDialect_aiosqlite
DRIVER = "sqlite.aiosqlite"
{%- endif %}


def enabled() -> bool:
    return os.environ.get("TEST_SPEEDUPS", "1") != "0"


def pytest_configure(config: pytest.Config) -> None:
    if enabled():
        registry.register(DRIVER, __name__, FastTestDialect.__name__)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Freeze what is alive before the first test, in every process (xdist's too).

    Saves: ~0.5 s of garbage collection per 500 tests, and ~0.4 s at interpreter exit.
    Assumes: what imports and collection created lives until the end of the run anyway,
    so the cyclic collector need not scan it again; each test's garbage is still collected.
    """
    if enabled():
        gc.freeze()
{%- if cookiecutter.database == "postgresql" %}


@pytest.fixture(scope="session", autouse=True)
def _worker_database_without_jit(worker_database_url: URL) -> None:
    """jit = off on each worker database, after it is cloned.

    Saves: ~1 ms per test, on asyncpg's type-introspection query that each new connection
    runs once. Assumes: test tables hold a few rows, so compiling a query costs more than
    running it. Per-database settings are not copied from a template, hence per clone.
    """
    if enabled():
        name = database.quote(database.database_name(worker_database_url))
        database.run_admin(worker_database_url, [f"ALTER DATABASE {name} SET jit = off"])
{%- endif %}


# What may be remembered: values that carry no connection, loop or other live state.
_PLAIN_TYPES = (bool, int, float, str, type(None))
_MISSING = object()


class FastTestDialect(ProjectDialect):
    """The project's dialect, for this test process only, minus work tests repeat.

    `initialize()` answered from memory. Saves: ~1.3 ms per test. On the first connection
    of every engine, SQLAlchemy asks the server its version, default schema, isolation
    level and string quoting: about ten round trips, and each test makes a new engine.
    Assumes: engines on one URL get the same answers (they are facts about the server).
    Only plain values are remembered; anything else might be live state.
{%- if cookiecutter.database == "postgresql" %}

    `do_close()` hangs up. Saves: ~2 ms per test. Closing an asyncpg connection sends
    Terminate and waits for the server process to exit; aborting the socket ends the
    server session just as surely. Assumes: the pool closes only connections whose
    transaction it has already rolled back, so there is nothing left to finish.
{%- endif %}
    """

    supports_statement_cache = True  # a subclass must say so, or SQLAlchemy stops caching
    _remembered: ClassVar[dict[str, dict[str, Any]]] = {}

    def initialize(self, connection: Connection) -> None:
        url = connection.engine.url.render_as_string(hide_password=True)
        facts = self._remembered.get(url)
        if facts is not None:
            vars(self).update(facts)
            return
        before = dict(vars(self))
        # cast: some dialects' initialize() carry no annotations.
        ask_the_server = cast(Callable[[Connection], None], super().initialize)
        ask_the_server(connection)
        learned = {
            name: value
            for name, value in vars(self).items()
            if before.get(name, _MISSING) is not value
        }
        # A lazily computed cache (a memoized property, such as SQLAlchemy's type memos)
        # is each dialect's own and refills itself.
        caches = {name for name in learned if _is_lazy_cache(type(self), name)}
        facts = {name: value for name, value in learned.items() if name not in caches}
        if all(_is_plain(value) for value in facts.values()):
            self._remembered[url] = facts
{%- if cookiecutter.database == "postgresql" %}

    def do_close(self, dbapi_connection: DBAPIConnection) -> None:
        # The driver's own terminate(): SQLAlchemy 2.1's adapter terminate() first tries
        # a polite close, and waits for it.
        cast(Any, dbapi_connection).driver_connection.terminate()
{%- endif %}


def _is_plain(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_is_plain(item) for item in value)
    return isinstance(value, _PLAIN_TYPES)


def _is_lazy_cache(cls: type, name: str) -> bool:
    """The class computes this attribute on first use (a descriptor that fills it in)."""
    return hasattr(inspect.getattr_static(cls, name, None), "__get__")
