"""Every trick that exists only to make the suite faster, and nothing else.

The pattern the guide teaches (conftest.py, database.py) works without this module:
`TEST_SPEEDUPS=0 uv run pytest` turns every trick off and the suite still passes. Each
trick says what it saves (measured with `benchmarks/run.py` on a 2-core machine, local
PostgreSQL 15) and what it assumes. Registered as a pytest plugin by the conftest.
"""

import gc
import inspect
import os
{%- if cookiecutter.database == "postgresql" %}
from collections.abc import Callable, Iterator
{%- else %}
from collections.abc import Callable
{%- endif %}
from typing import Any, ClassVar, cast

import pytest
from sqlalchemy.dialects import registry
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
{%- else %}
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
{%- endif %}
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.engine.interfaces import ConnectArgsType, DBAPIConnection
from sqlalchemy.util import LRUCache, await_only

from . import database, workers

ProjectDialect = PGDialect_asyncpg
DRIVER = "postgresql.asyncpg"
{%- else %}
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.util import LRUCache

ProjectDialect = SQLiteDialect_aiosqlite
DRIVER = "sqlite.aiosqlite"
{%- endif %}


def enabled(trick: str = "") -> bool:
    """TEST_SPEEDUPS=0 turns every trick off; TEST_SPEEDUPS_WITHOUT=name,... turns off the
    named ones (for measuring one lever at a time: benchmarks/run.py)."""
    if os.environ.get("TEST_SPEEDUPS", "1") == "0":
        return False
    return not trick or trick not in os.environ.get("TEST_SPEEDUPS_WITHOUT", "").split(",")


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


# ── PgBouncer in front of the worker databases ─────────────────────────────────────────
#
# Saves: 5 to 8 ms per realistic test, most of what a new connection costs, and most of
# the server's CPU per test (13.7 to 3.5 ms), so `-n 2` scales. Without a pooler every
# test's engine makes the server fork a backend, which then loads its catalog caches on
# the test's first statements. In session mode PgBouncer hands each new client
# connection a server session that is already warm.
# Assumes: `server_reset_query = DISCARD ALL` (compose.test.yaml), which leaves nothing
# of one test's session to the next: no advisory lock, prepared statement, temporary
# table, LISTEN or SET (test_speedups.py proves each). Only the worker databases go
# through it: session start, migrations and renames talk to the server directly.

POOLER_ENV = "TEST_DATABASE_POOLER"
_pooled_databases: dict[str, tuple[str, int]] = {}  # worker database name -> host, port


def configured_pooler() -> tuple[str, int] | None:
    """TEST_DATABASE_POOLER=host:port (`make test` sets the compose.test.yaml one), or None."""
    value = os.environ.get(POOLER_ENV, "").strip()
    if not (value and enabled("pooler")):
        return None
    host, _, port = value.rpartition(":")
    if not (host and port.isdigit()):
        raise database.ProvisioningError(
            f"{POOLER_ENV}={value!r} is not host:port, e.g. {POOLER_ENV}=127.0.0.1:6432"
        )
    return host, int(port)


def pooled_address(url: URL) -> tuple[str, int] | None:
    """Where connections to this URL's database go instead of its server, if anywhere."""
    return _pooled_databases.get(database.database_name(url))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Before any database work: the pooler answers and is in front of the same server."""
    if workers.is_xdist_worker(session.config):
        return
    try:
        pooler = configured_pooler()
        if pooler is not None:
            check_pooler(database.configured_test_url(), *pooler)
    except database.ProvisioningError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


def check_pooler(url: URL, host: str, port: int) -> None:
    """Fail with instructions when the pooler does not answer, or is in front of another
    server than TEST_DATABASE_URL's (tests would then not see the databases they made)."""
    started = "SELECT pg_postmaster_start_time()::text"
    try:
        direct = database.run_admin(url, [started])
    except Exception:  # the server itself is down: session start says so, in its own words
        return
    try:
        pooled = database.run_admin(url.set(host=host, port=port), [started])
    except Exception as exc:  # refused, timed out, refused the login: all mean "not usable"
        raise database.ProvisioningError(
            f"No PgBouncer answers at {POOLER_ENV}={host}:{port}: {type(exc).__name__}: "
            f"{exc}\nStart the test services with `make up`, or unset {POOLER_ENV} to connect "
            "to PostgreSQL directly (slower: every test's connection then starts a server "
            "process)."
        ) from exc
    if pooled != direct:
        raise database.ProvisioningError(
            f"{POOLER_ENV}={host}:{port} leads to another PostgreSQL server than "
            f"TEST_DATABASE_URL ({url.render_as_string(hide_password=True)}): one started "
            f"at {pooled}, the other at {direct}. Point the pooler at the test server, or "
            f"unset {POOLER_ENV}."
        )


@pytest.fixture(scope="session", autouse=True)
def _worker_database_through_pooler(
    request: pytest.FixtureRequest, worker_database_url: URL
) -> Iterator[None]:
    pooler = configured_pooler()
    if pooler is None:
        yield
        return
    name = database.database_name(worker_database_url)
    _pooled_databases[name] = pooler
    yield
    del _pooled_databases[name]
    if not workers.service_lost(request.config):
        # PgBouncer keeps its server sessions on this database; the worker database is
        # renamed or dropped next, which needs them gone.
        database.end_sessions_on(worker_database_url)
{%- endif %}


# ── One compiled-statement cache for every engine of the process ─────────────────────────
#
# Saves: 6 to 7 ms per realistic test. SQLAlchemy caches compiled SQL per engine, and
# each test's app creates a new engine, so every test compiled its statements again.
# Assumes: compiled SQL depends only on the dialect's configuration and the server's
# answers to initialize(); FastTestDialect instances equal in both share entries (the
# cache key holds the dialect). The cache holds SQL text and result metadata, no
# connection or loop.
_SHARED_COMPILED_CACHE: LRUCache[Any, Any] = LRUCache(1000)
# Made by each dialect from its plain settings, so they differ in identity only.
_DIALECT_HELPERS = frozenset(
    {"dbapi", "identifier_preparer", "type_compiler", "type_compiler_instance"}
)


# What may be remembered: values that carry no connection, loop or other live state.
_PLAIN_TYPES = (bool, int, float, str, type(None))
_MISSING = object()


class FastTestDialect(ProjectDialect):
    """The project's dialect, for this test process only, minus work tests repeat.

    Engines share one compiled-statement cache (`engine_created`, `__eq__`, `__hash__`;
    see above){% if cookiecutter.database == "postgresql" %}, and connections to a worker database go to the pooler when
    there is one (`create_connect_args`){% endif %}.

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

    `do_ping()` in one round trip. Saves: 0.3 to 0.5 ms per test. The pool pings a
    connection each time it is checked out again (`pool_pre_ping`, as the app sets it):
    the asyncpg adapter wraps a prepared `;` in BEGIN and ROLLBACK, four round trips, in
    case a PgBouncer in transaction mode sits in between. A simple-protocol `SELECT 1` is one
    statement in any pooling mode. Assumes: a ping the server or the socket refuses means
    the connection is dead, as the adapter's own ping does; anything else is raised.

    SAVEPOINT, RELEASE and ROLLBACK TO in one round trip. Saves: 0.6 to 0.7 ms per test.
    Each request's session opens a savepoint in the test's transaction; asyncpg prepares
    every statement on its first use on a connection, and each test's connection is new,
    so these cost two round trips each. Parameterless, they can go as simple queries.
    Assumes: inside a transaction the two protocols do the same. A statement that fails
    this way is run again the usual way, so the error raised is SQLAlchemy's.
{%- endif %}
    """

    supports_statement_cache = True  # a subclass must say so, or SQLAlchemy stops caching
    _remembered: ClassVar[dict[str, dict[str, Any]]] = {}
    _sharing_key: tuple[Any, ...] | None = None

    @classmethod
    def engine_created(cls, engine: Engine) -> None:
        if not enabled("shared_compiled_cache"):
            return
        dialect = cast(FastTestDialect, engine.dialect)
        configuration = tuple(
            sorted(
                (name, value if _is_plain(value) else id(value))
                for name, value in vars(dialect).items()
                if name not in _DIALECT_HELPERS
            )
        )
        dialect._sharing_key = (engine.url.render_as_string(hide_password=True), configuration)
        engine.update_execution_options(compiled_cache=_SHARED_COMPILED_CACHE)

    def __eq__(self, other: object) -> bool:
        if self._sharing_key is None or not isinstance(other, FastTestDialect):
            return self is other
        return self._sharing_key == other._sharing_key

    def __hash__(self) -> int:
        return id(self) if self._sharing_key is None else hash(self._sharing_key)
{%- if cookiecutter.database == "postgresql" %}

    def create_connect_args(self, url: URL) -> ConnectArgsType:
        """Connections to a worker database go to the pooler, when there is one."""
        # cast: the asyncpg dialect's create_connect_args() carries no annotations.
        connect_args = cast(Callable[[URL], ConnectArgsType], super().create_connect_args)
        args, kwargs = connect_args(url)
        if (pooler := pooled_address(url)) is not None:
            kwargs["host"], kwargs["port"] = pooler
        return args, kwargs
{%- endif %}

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

    def do_ping(self, dbapi_connection: DBAPIConnection) -> bool:
        if not enabled("one_trip_ping"):
            # cast: the asyncpg dialect's do_ping() carries no annotations.
            return cast(Callable[[DBAPIConnection], bool], super().do_ping)(dbapi_connection)
        try:
            await_only(cast(Any, dbapi_connection).driver_connection.execute("SELECT 1"))
        except self._refusals():
            return False  # the pool replaces the connection
        return True

    def _refusals(self) -> tuple[type[BaseException], ...]:
        """What asyncpg raises when the server or the socket refuses a statement."""
        driver = cast(Any, self.loaded_dbapi).asyncpg  # the adapter keeps the module
        return (driver.PostgresError, driver.InterfaceError, OSError)

    def do_savepoint(self, connection: Connection, name: str) -> None:
        self._in_one_trip(connection, "SAVEPOINT", name, super().do_savepoint)

    def do_release_savepoint(self, connection: Connection, name: str) -> None:
        self._in_one_trip(connection, "RELEASE SAVEPOINT", name, super().do_release_savepoint)

    def do_rollback_to_savepoint(self, connection: Connection, name: str) -> None:
        self._in_one_trip(
            connection, "ROLLBACK TO SAVEPOINT", name, super().do_rollback_to_savepoint
        )

    def _in_one_trip(
        self,
        connection: Connection,
        command: str,
        name: str,
        usual_way: Callable[[Connection, str], None],
    ) -> None:
        """A simple query when a transaction is open on the server (the adapter begins one
        lazily, on its first statement, which therefore goes the usual way)."""
        driver = cast(Any, connection.connection.driver_connection)
        if not (enabled("one_trip_savepoints") and driver.is_in_transaction()):
            usual_way(connection, name)
            return
        try:
            await_only(driver.execute(f"{command} {self.identifier_preparer.quote(name)}"))
        except self._refusals():
            # Raise SQLAlchemy's own error (a lost connection is then handled as usual);
            # the traceback still shows this first failure above it.
            usual_way(connection, name)
{%- endif %}


def _is_plain(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_is_plain(item) for item in value)
    return isinstance(value, _PLAIN_TYPES)


def _is_lazy_cache(cls: type, name: str) -> bool:
    """The class computes this attribute on first use (a descriptor that fills it in)."""
    return hasattr(inspect.getattr_static(cls, name, None), "__get__")
