"""The project's ONLY conftest. Read it top to bottom as the fixture graph:

    session start ─ worker database ─ test_settings ─ app ─ lifespan ─ db_session ─ client
                                                                   └─ factories ─ auth_headers

Session start (synchronous, outside any event loop) refuses non-test databases, fails fast
when a service is down, and migrates a template database once. Each xdist worker clones
that template. Every async fixture is function-scoped and runs on the test's own loop, so
no engine, connection or client ever outlives the loop it was made on.
"""

import asyncio
import functools
import gc
import inspect
import os
{%- if cookiecutter.use_redis == "y" %}
import uuid
{%- endif %}
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeVar

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
{%- if cookiecutter.use_redis == "y" %}
from redis import Redis as SyncRedis
from redis.asyncio import Redis
{%- endif %}
from sqlalchemy import event{% if cookiecutter.database == "postgresql" %}, text{% endif %}
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from {{ cookiecutter.package_name }}.db import Database, get_session
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import Base, Item, User
from {{ cookiecutter.package_name }}.security import create_access_token
from {{ cookiecutter.package_name }}.settings import Settings

from . import database, dialects
from .factories import DEFAULT_PASSWORD, BaseFactory, ItemFactory, UserFactory

DEFAULT_ASYNC_TIMEOUT_SECONDS = 10.0
{%- if cookiecutter.use_redis == "y" %}
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_DATABASES = 16
{%- endif %}

dialects.register()  # engines made in this process ask the server about itself only once


# ── Session start: runs once, in the controller process, before any worker exists ───────


def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_xdist_worker(session.config):
        return
    url = database.configured_test_url()
    try:
        database.require_test_database(url)
        database.check_server(url)
{%- if cookiecutter.use_redis == "y" %}
        _check_redis(_test_redis_url())
{%- endif %}
        database.create_template(_template_url(url))
    except database.ProvisioningError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _is_xdist_worker(session.config):
        return
    url = database.configured_test_url()
    if database.database_name(url).endswith(database.TEST_NAME_SUFFIX):
        database.drop_database(_template_url(url))


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _template_url(url: URL) -> URL:
    return database.derived_url(url, "template")
{%- if cookiecutter.use_redis == "y" %}


def _test_redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)


def _check_redis(url: str) -> None:
    client = SyncRedis.from_url(
        url, socket_connect_timeout=database.CONNECT_TIMEOUT_SECONDS, socket_timeout=3
    )
    try:
        client.ping()
    except Exception as exc:
        raise database.ProvisioningError(
            f"Cannot reach Redis at {url}: {type(exc).__name__}: {exc}\n"
            "Start the test services with `make up`, or set TEST_REDIS_URL."
        ) from exc
    finally:
        client.close()
{%- endif %}


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Freeze what is alive before the first test: in every process (an xdist controller
    collects nothing, a worker collects its own), after imports and collection."""
    # It lives until the end of the run. Frozen, the cyclic garbage collector stops
    # scanning it in every full collection (~0.1 s each, one every ~100 tests) and at
    # interpreter exit (~0.4 s); each test's own garbage is collected as before.
    gc.freeze()


# ── Per-test asyncio timeout: a stuck await fails its own test, with its own traceback ──


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.obj = with_timeout(item.obj, _timeout_for(item))


def _timeout_for(item: pytest.Function) -> float:
    marker = item.get_closest_marker("async_timeout")
    if marker is not None:
        return float(marker.args[0])
    return float(os.environ.get("TEST_TIMEOUT", DEFAULT_ASYNC_TIMEOUT_SECONDS))


def with_timeout(
    test: Callable[..., Coroutine[Any, Any, None]], seconds: float
) -> Callable[..., Coroutine[Any, Any, None]]:
    """Cancel the test after `seconds`; the traceback shows the await it was stuck on."""

    @functools.wraps(test)
    async def run_with_timeout(*args: Any, **kwargs: Any) -> None:
        try:
            async with asyncio.timeout(seconds):
                await test(*args, **kwargs)
        except TimeoutError as exc:
            exc.add_note(
                f"The test did not finish within {seconds} s "
                "(TEST_TIMEOUT, or @pytest.mark.async_timeout(seconds))."
            )
            raise

    return run_with_timeout


# ── Per worker: its own database, cloned from the template; dropped at the end ──────────


@pytest.fixture(scope="session")
def worker_id_or_main(request: pytest.FixtureRequest) -> str:
    """`gw0`, `gw1`, ... under xdist; `main` in a plain run."""
    workerinput: dict[str, Any] | None = getattr(request.config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "main"


@pytest.fixture(scope="session")
def worker_database_url(worker_id_or_main: str) -> Iterator[URL]:
    """This worker's private database, migrated (via the template) and empty.

    At the end it must still be empty: a test that left rows behind broke isolation,
    and the session fails naming the tables.
    """
    url = database.configured_test_url()
    worker_url = database.derived_url(url, worker_id_or_main)
    database.clone_template(_template_url(url), worker_url)
    yield worker_url
    leftovers = {
        table: rows
        for table, rows in database.count_rows(worker_url, Base.metadata.tables).items()
        if rows
    }
    database.drop_database(worker_url)
    assert not leftovers, f"Tests leaked rows into the test database: {leftovers}"
{%- if cookiecutter.use_redis == "y" %}


@pytest.fixture(scope="session")
def worker_redis_url(worker_id_or_main: str) -> str:
    """Each xdist worker gets its own Redis logical database, next to the configured one."""
    url = httpx.URL(_test_redis_url())
    base = int(url.path.strip("/") or 0)
    offset = 0 if worker_id_or_main == "main" else int(worker_id_or_main.removeprefix("gw")) + 1
    return str(url.copy_with(path=f"/{(base + offset) % REDIS_DATABASES}"))
{%- endif %}


# ── Per test: settings, a fresh app, its lifespan, a transaction, a client ─────────────


@pytest.fixture(scope="session")
def worker_settings(worker_database_url: URL{% if cookiecutter.use_redis == "y" %}, worker_redis_url: str{% endif %}) -> Settings:
    """This worker's services, and a cheap password hash. Validated once: reading the
    environment again costs ~0.5 ms per test. Tests get copies (`test_settings`)."""
    return Settings(
        _env_file=None,
        environment="test",
        database_url=worker_database_url.render_as_string(hide_password=False),
{%- if cookiecutter.use_redis == "y" %}
        redis_url=worker_redis_url,
{%- endif %}
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        # Cheapest valid argon2 parameters: tests check behaviour, not hashing strength.
        password_hash_time_cost=1,
        password_hash_memory_cost_kib=8,
        password_hash_parallelism=1,
    )


@pytest.fixture
def test_settings(worker_settings: Settings) -> Settings:
    """Settings for one test: a copy of the worker's, so no test sees another's changes."""
{%- if cookiecutter.use_redis == "y" %}
    # A prefix per test: Redis keys (rate-limit counters) never leak between tests.
    return worker_settings.model_copy(update={"redis_key_prefix": f"test:{uuid.uuid4().hex}:"})
{%- else %}
    return worker_settings.model_copy()
{%- endif %}


@pytest.fixture
def app(test_settings: Settings) -> FastAPI:
    """A new application per test: nothing is shared with any other test."""
    return create_app(test_settings)


@pytest.fixture
async def lifespan(app: FastAPI) -> AsyncIterator[LifespanManager]:
    """Run the app's real startup (engine created) and shutdown (engine disposed)."""
    async with LifespanManager(app) as manager:
        yield manager


@pytest.fixture
async def db_session(
    request: pytest.FixtureRequest, app: FastAPI, lifespan: LifespanManager
) -> AsyncIterator[AsyncSession]:
    """A session on the connection the app's routes use, inside a transaction rolled back
    at the end. A route's commit() only releases a savepoint, so nothing persists.

    Tests marked `@pytest.mark.committing` get real commits instead, and every table is
    truncated afterwards.
    """
    db: Database = app.state.database
    if request.node.get_closest_marker("committing"):
        async with db.sessionmaker() as session:
            yield session
        await _truncate_all_tables(db)
        return
    async with db.engine.connect() as connection:
        outer_transaction = await connection.begin()
        app.dependency_overrides[get_session] = _sessions_on(connection)
        try:
            async with _sessionmaker_on(connection)() as session:
                yield session
        finally:
            app.dependency_overrides.pop(get_session, None)
            await outer_transaction.rollback()
{%- if cookiecutter.database == "postgresql" %}
            await _hang_up(connection)
{%- endif %}


{%- if cookiecutter.database == "postgresql" %}


async def _hang_up(connection: AsyncConnection) -> None:
    """Close the test's connection without waiting for the server's goodbye.

    Its transaction is rolled back and acknowledged, so nothing is left to finish. Left in
    the pool, it would be closed by the lifespan's dispose(), which sends Terminate and
    waits ~2 ms for the server process to exit: a third of a test's database time.
    Aborting the socket ends the server session just as surely; invalidate() makes the
    pool forget the connection, so dispose() finds nothing to close.
    """
    raw = await connection.get_raw_connection()
    asyncpg_connection = raw.driver_connection
    assert asyncpg_connection is not None
    asyncpg_connection.terminate()  # closes the socket at once; close() would wait
    await connection.invalidate()
{%- endif %}


def _sessionmaker_on(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # create_savepoint: the session's commit/rollback act on a SAVEPOINT inside the
    # test's transaction (SQLAlchemy's "join a session into an external transaction").
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


def _sessions_on(
    connection: AsyncConnection,
) -> Callable[[], AsyncIterator[AsyncSession]]:
    sessionmaker = _sessionmaker_on(connection)

    async def session_on_test_connection() -> AsyncIterator[AsyncSession]:
        async with sessionmaker() as session:
            yield session

    return session_on_test_connection


async def _truncate_all_tables(db: Database) -> None:
    async with db.engine.begin() as connection:
{%- if cookiecutter.database == "postgresql" %}
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
{%- else %}
        # SQLite has no TRUNCATE: delete children before parents.
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())
{%- endif %}


@pytest.fixture
async def client(
    lifespan: LifespanManager, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, its lifespan running, its requests on `db_session`'s
    connection (so each side sees the other's rows)."""
    async with _client_for(lifespan) as http_client:
        yield http_client


def _client_for(
    lifespan: LifespanManager, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    # manager.app, not app: lifespan state (`yield {...}`) reaches requests only through
    # this wrapper. This app keeps its resources on app.state, but copied code may not.
    transport = httpx.ASGITransport(app=lifespan.app)
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)


# ── Data: factories on the test's session, and authenticated callers ─────────────────────


ModelT_co = TypeVar("ModelT_co", covariant=True)
ModelT = TypeVar("ModelT", bound=Base)


class ModelFactory(Protocol[ModelT_co]):
    async def __call__(self, **overrides: Any) -> ModelT_co: ...


@pytest.fixture
def _factories_on_session(db_session: AsyncSession) -> Iterator[None]:
    """Bind the factory classes to this test's session too, so a test that calls
    `UserFactory.create_batch_async(3)` directly writes inside its own transaction."""
    BaseFactory.__async_session__ = db_session
    try:
        yield
    finally:
        BaseFactory.__async_session__ = None


async def _flushed(session: AsyncSession, instance: ModelT) -> ModelT:
    """What the factories' `create_async()` does, minus its unconditional refresh: one more
    SELECT per row, although the INSERT's RETURNING (eager_defaults) already loaded the
    server's values. Only attributes the flush left expired are loaded again."""
    session.add(instance)
    await session.flush()
    expired = sa_inspect(instance).expired_attributes
    if expired:
        await session.refresh(instance, attribute_names=expired)
    return instance


@pytest.fixture
def user_factory(
    app: FastAPI, db_session: AsyncSession, _factories_on_session: None
) -> ModelFactory[User]:
    """`await user_factory(email=...)`: a flushed User with unique values; its password is
    `factories.DEFAULT_PASSWORD` unless `password=` is given."""

    async def create_user(*, password: str = DEFAULT_PASSWORD, **overrides: Any) -> User:
        hashed = app.state.password_hasher.hash(password)
        return await _flushed(db_session, UserFactory.build(hashed_password=hashed, **overrides))

    return create_user


@pytest.fixture
def item_factory(
    db_session: AsyncSession, user_factory: ModelFactory[User], _factories_on_session: None
) -> ModelFactory[Item]:
    """`await item_factory(owner=user)`: a flushed Item; a new owner is made when none is given."""

    async def create_item(*, owner: User | None = None, **overrides: Any) -> Item:
        owner = owner or await user_factory()
        return await _flushed(db_session, ItemFactory.build(owner_id=owner.id, **overrides))

    return create_item


@pytest.fixture
async def current_user(user_factory: ModelFactory[User]) -> User:
    """The user `auth_headers` and `auth_client` authenticate as."""
    return await user_factory()


@pytest.fixture
def auth_headers(current_user: User, test_settings: Settings) -> dict[str, str]:
    """`Authorization` header for `current_user`; no login round trip, no password hashing."""
    return {"Authorization": f"Bearer {create_access_token(current_user.id, test_settings)}"}


@pytest.fixture
async def auth_client(
    client: httpx.AsyncClient, lifespan: LifespanManager, auth_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """Like `client`, but every request is authenticated as `current_user`."""
    async with _client_for(lifespan, headers=auth_headers) as http_client:
        yield http_client
{%- if cookiecutter.use_redis == "y" %}


@pytest.fixture
async def redis(test_settings: Settings) -> AsyncIterator[Redis]:
    """A client on this worker's Redis database. Only tests that ask for it pay for the
    cleanup: the keys under this test's prefix are deleted afterwards."""
    client = Redis.from_url(test_settings.redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{test_settings.redis_key_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
{%- endif %}


# ── Query counting: catch N+1 queries in a route ─────────────────────────────────────────

# Transaction control (some of it added by the test harness's savepoints) is not a query.
_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


QueryCounter = Callable[[int], AbstractContextManager[list[str]]]


@pytest.fixture
def assert_max_queries(app: FastAPI, lifespan: LifespanManager) -> QueryCounter:
    """`with assert_max_queries(2): ...` fails when the block runs more SQL statements."""
    engine = app.state.database.engine.sync_engine

    @contextmanager
    def at_most(limit: int) -> Iterator[list[str]]:
        statements: list[str] = []

        def record(*args: Any) -> None:
            statement: str = args[2]
            if not statement.lstrip().upper().startswith(_TRANSACTION_CONTROL):
                statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert len(statements) <= limit, (
            f"{len(statements)} queries, at most {limit} expected:\n" + "\n".join(statements)
        )

    return at_most
