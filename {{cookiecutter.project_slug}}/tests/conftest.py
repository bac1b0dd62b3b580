"""The project's ONLY conftest: the fixture graph, top to bottom as drawn here.

    worker_database_url ─ worker_settings ─ worker_app ─ app ─ lifespan ─ db_session
                          worker_settings ─ test_settings ─ app
{%- if cookiecutter.use_redis == "y" %}
                                            test_settings ─ redis
{%- endif %}
    db_session ─┬─ client
                ├─ user_factory ─ item_factory
                ├─ current_user ─ auth_headers ─ auth_client
                └─ assert_max_queries

plugin.py's session start checks the databases and services and migrates the template
workers clone. Session fixtures open nothing; async fixtures are per test, on its loop.
Guards: guards.py; speed-only tricks: speedups.py; project names: project.py.
"""
{% if cookiecutter.use_redis == "y" %}
import uuid
{%- endif %}
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
{%- if cookiecutter.use_redis == "y" %}
from redis.asyncio import Redis
{%- endif %}
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import Item, User
from {{ cookiecutter.package_name }}.settings import Settings

from . import database, guards, project, workers
from .clients import client_for
from .factories import DEFAULT_PASSWORD, ItemFactory, ModelFactory, UserFactory, bound_to, persist
from .queries import QueryCounter, query_counter
from .sessions import sessionmaker_on, sessions_on

pytest_plugins = ["tests.plugin", "tests.speedups"]


# ── Per worker: its own database (cloned from the template) and services ─────────────────


@pytest.fixture(scope="session")
def worker_database_url(request: pytest.FixtureRequest) -> Iterator[URL]:
    """This worker's private database, migrated (via the template) and empty. At the end
    it must still be empty: rows left behind mean a test broke isolation."""
    worker_url = workers.cloned_worker_database(request.config)
    yield worker_url
    if workers.service_lost(request.config):
        return  # the server is gone: the next run's orphan sweep drops this database
    leftovers = database.tables_with_rows(worker_url, project.METADATA)
    workers.release_worker_database(request.config, worker_url, reusable=not leftovers)
    assert not leftovers, f"Tests leaked rows into the test database: {leftovers}"


@pytest.fixture(scope="session")
def worker_settings(worker_database_url: URL) -> Settings:
    """This worker's services, validated once; tests get copies (`test_settings`)."""
    url = worker_database_url.render_as_string(hide_password=False)
{%- if cookiecutter.use_redis == "y" %}
    return project.build_settings(url, workers.configured_redis_url())
{%- else %}
    return project.build_settings(url)
{%- endif %}


# ── Per test: settings, the app as new, its lifespan, a transaction, a client ─────────


@pytest.fixture
def test_settings(worker_settings: Settings) -> Settings:
    """A copy of the worker's settings, so no test sees another's changes."""
{%- if cookiecutter.use_redis == "y" %}
    # A Redis key prefix per test: no key (rate-limit counters) is seen by another test,
    # in this worker or any other, so every worker can share one Redis database.
    return worker_settings.model_copy(update={"redis_key_prefix": f"test:{uuid.uuid4().hex}:"})
{%- else %}
    return worker_settings.model_copy()
{%- endif %}


@pytest.fixture(scope="session")
def worker_app(worker_settings: Settings) -> guards.AppReset:
    """One app for this process's tests: FastAPI analyses routes once per app, not per test."""
    return guards.AppReset(project.APP_FACTORY(worker_settings))


@pytest.fixture
def app(
    request: pytest.FixtureRequest, worker_app: guards.AppReset, test_settings: Settings
) -> Iterator[FastAPI]:
    """The shared app as new, with this test's settings; what the test changes on it is put
    back afterwards, or fails the test (guards.py). It holds nothing open between tests."""
    with worker_app.lent_to(request.node.nodeid, settings=test_settings) as shared_app:
        yield shared_app


@pytest.fixture
async def lifespan(request: pytest.FixtureRequest, app: FastAPI) -> AsyncIterator[LifespanManager]:
    """The app's real startup (engine created) and shutdown (engine disposed), per test;
    before shutdown, a test that committed outside its transaction fails (guards.py)."""
    async with LifespanManager(app) as manager, guards.commits_checked(request.node, app):
        yield manager


@pytest.fixture
async def db_session(
    request: pytest.FixtureRequest, app: FastAPI, lifespan: LifespanManager
) -> AsyncIterator[AsyncSession]:
    """A session on the connection the app's routes use, inside a transaction rolled back
    at the end (a route's commit() only releases a savepoint). `@pytest.mark.committing`
    tests get real commits instead, and every table is emptied afterwards."""
    engine = project.engine_of(app)
    if request.node.get_closest_marker("committing"):
        async with AsyncSession(engine, expire_on_commit=False) as session:
            yield session
        async with engine.begin() as connection:
            await database.empty_tables(connection, project.METADATA)
        return
    async with engine.connect() as connection:
        transaction = await connection.begin()
        app.dependency_overrides[project.SESSION_DEPENDENCY] = sessions_on(connection)
        try:
            async with sessionmaker_on(connection)() as session:
                yield session
        finally:
            app.dependency_overrides.pop(project.SESSION_DEPENDENCY, None)
            await transaction.rollback()


@pytest.fixture
async def client(
    lifespan: LifespanManager, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, its lifespan running, its requests on `db_session`'s
    connection (so each side sees the other's rows)."""
    async with client_for(lifespan) as http_client:
        yield http_client


# ── Data: factories on the test's session, and authenticated callers ─────────────────────


@pytest.fixture
def user_factory(app: FastAPI, db_session: AsyncSession) -> Iterator[ModelFactory[User]]:
    """`await user_factory(email=...)`: a flushed User with unique values; its password is
    `factories.DEFAULT_PASSWORD` unless `password=` is given. While it is in use, factory
    classes called directly (`UserFactory.create_batch_async(3)`) write there too."""

    async def create_user(*, password: str = DEFAULT_PASSWORD, **overrides: Any) -> User:
        hashed = app.state.password_hasher.hash(password)
        return await persist(db_session, UserFactory.build(hashed_password=hashed, **overrides))

    with bound_to(db_session):
        yield create_user


@pytest.fixture
def item_factory(db_session: AsyncSession, user_factory: ModelFactory[User]) -> ModelFactory[Item]:
    """`await item_factory(owner=user)`: a flushed Item; a new owner is made when none is given."""

    async def create_item(*, owner: User | None = None, **overrides: Any) -> Item:
        owner = owner or await user_factory()
        return await persist(db_session, ItemFactory.build(owner_id=owner.id, **overrides))

    return create_item


@pytest.fixture
async def current_user(user_factory: ModelFactory[User]) -> User:
    """The user `auth_headers` and `auth_client` authenticate as."""
    return await user_factory()


@pytest.fixture
def auth_headers(current_user: User, test_settings: Settings) -> dict[str, str]:
    """`Authorization` header for `current_user`; no login round trip, no password hashing."""
    return {"Authorization": f"Bearer {project.mint_token(current_user.id, test_settings)}"}


@pytest.fixture
async def auth_client(
    lifespan: LifespanManager, db_session: AsyncSession, auth_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """Like `client`, but every request is authenticated as `current_user`."""
    async with client_for(lifespan, headers=auth_headers) as http_client:
        yield http_client


@pytest.fixture
def assert_max_queries(app: FastAPI, lifespan: LifespanManager) -> QueryCounter:
    """`with assert_max_queries(2): ...` fails when the block runs more SQL statements."""
    return query_counter(project.engine_of(app))
{%- if cookiecutter.use_redis == "y" %}


@pytest.fixture
async def redis(test_settings: Settings) -> AsyncIterator[Redis]:
    """A client on the test Redis. Only tests that ask for it pay for the cleanup: the
    keys under this test's prefix are deleted afterwards."""
    client = Redis.from_url(test_settings.redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{test_settings.redis_key_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
{%- endif %}
