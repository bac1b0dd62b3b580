"""The synthetic test module `benchmarks/run.py` writes into a baked project.

Every kind of test, in both designs, on the same generated app, written interleaved (test
0 of every kind, then test 1 of every kind, ...) so load on the machine hits all of them
alike:

- the generated design, through the project's own conftest: its own loop, the app's
  lifespan creating and disposing the engine, its own connection and rolled-back
  transaction per test, on one app object per process (reset after each test);
- `newapp_*`: the same with a new app object per test (the design before app reuse), to
  measure that lever;
- `rival_*`: the popular shared-loop design: one event loop, one app, one lifespan and one
  engine for the whole session; per test a connection with a transaction, rolled back;
- `unchecked_*`: the generated design without the per-test committed-rows check (guards.py),
  to measure what that check costs;
- `large_*`: the generated design on the same app plus EXTRA_ROUTERS x ROUTES_PER_ROUTER
  ordinary routes (same session and current-user dependencies), included before `items`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

EXTRA_ROUTERS = 6
ROUTES_PER_ROUTER = 20

# The kinds of synthetic tests; each is written N times, the index in the name.
KINDS: Mapping[str, str] = {
    # pytest's own cost per test, sync, no fixture.
    "bare": """
        def test_bench_bare_{i}() -> None:
            assert True
    """,
    # One factory row flushed into db_session: app, lifespan, engine, outer transaction.
    "db_session": """
        async def test_bench_db_session_{i}(user_factory) -> None:
            user = await user_factory()
            assert user.id is not None
    """,
    # One request that reads the database: the full per-test stack plus one route.
    "client": """
        async def test_bench_client_{i}(client) -> None:
            response = await client.get("/health")
            assert response.status_code == 200, response.text
    """,
    # An authenticated request (token for a factory user) that lists its items.
    "auth": """
        async def test_bench_auth_{i}(auth_client) -> None:
            response = await auth_client.get("/items")
            assert response.status_code == 200, response.text
    """,
    # The realistic test: a factory user and item, then an authenticated GET /items that
    # must return that item.
    "realistic": """
        async def test_bench_realistic_{i}(auth_client, current_user, item_factory) -> None:
            item = await item_factory(owner=current_user)
            response = await auth_client.get("/items")
            assert response.status_code == 200, response.text
            assert [found["id"] for found in response.json()] == [item.id]
    """,
    "newapp_realistic": """
        async def test_bench_newapp_realistic_{i}(auth_client, current_user, item_factory) -> None:
            item = await item_factory(owner=current_user)
            response = await auth_client.get("/items")
            assert [found["id"] for found in response.json()] == [item.id]
    """,
    "unchecked_realistic": """
        async def test_bench_unchecked_realistic_{i}(
            auth_client, current_user, item_factory
        ) -> None:
            item = await item_factory(owner=current_user)
            response = await auth_client.get("/items")
            assert [found["id"] for found in response.json()] == [item.id]
    """,
    "large_realistic": """
        async def test_bench_large_realistic_{i}(auth_client, current_user, item_factory) -> None:
            item = await item_factory(owner=current_user)
            response = await auth_client.get("/items")
            assert [found["id"] for found in response.json()] == [item.id]
    """,
    "large_newapp_realistic": """
        async def test_bench_large_newapp_realistic_{i}(
            auth_client, current_user, item_factory
        ) -> None:
            item = await item_factory(owner=current_user)
            response = await auth_client.get("/items")
            assert [found["id"] for found in response.json()] == [item.id]
    """,
    "rival_db_session": """
        @pytest.mark.asyncio(loop_scope="session")
        async def test_bench_rival_db_session_{i}(rival) -> None:
            user = await rival.user()
            assert user.id is not None
    """,
    "rival_client": """
        @pytest.mark.asyncio(loop_scope="session")
        async def test_bench_rival_client_{i}(rival) -> None:
            response = await rival.client.get("/health")
            assert response.status_code == 200, response.text
    """,
    "rival_auth": """
        @pytest.mark.asyncio(loop_scope="session")
        async def test_bench_rival_auth_{i}(rival) -> None:
            user = await rival.user()
            response = await rival.client.get("/items", headers=rival.headers_for(user))
            assert response.status_code == 200, response.text
    """,
    "rival_realistic": """
        @pytest.mark.asyncio(loop_scope="session")
        async def test_bench_rival_realistic_{i}(rival) -> None:
            user = await rival.user()
            item = await rival.item(user)
            response = await rival.client.get("/items", headers=rival.headers_for(user))
            assert response.status_code == 200, response.text
            assert [found["id"] for found in response.json()] == [item.id]
    """,
}

# Shown in this order; the pairs compared in the report.
REALISTIC = (
    "realistic",
    "rival_realistic",
    "newapp_realistic",
    "unchecked_realistic",
    "large_realistic",
)
COMPARISONS = (
    ("realistic", "rival_realistic", "generated / shared-loop rival"),
    ("db_session", "rival_db_session", "generated / rival (db_session)"),
    ("client", "rival_client", "generated / rival (client)"),
    ("auth", "rival_auth", "generated / rival (auth)"),
    ("newapp_realistic", "realistic", "new app per test / app reused"),
    ("realistic", "unchecked_realistic", "with / without the committed-rows check"),
    ("large_realistic", "realistic", "large app / small app (app reused)"),
    ("large_newapp_realistic", "newapp_realistic", "large app / small app (new app per test)"),
)

# Fixtures of the synthetic module. `app` here overrides the conftest's for this module
# only, choosing the app by the test's kind; the rest of the generated fixture graph
# (lifespan, db_session, client, factories) is the project's own.
FIXTURES = '''
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends

from tests import guards, project, speedups
from tests.clients import client_for
from tests.factories import DEFAULT_PASSWORD, ItemFactory, UserFactory, persist
from tests.sessions import sessionmaker_on, sessions_on


def _large_app(settings):
    """The project's app plus {routers} routers of {routes} routes each, before `items`."""
    from {package}.api import deps, items
    from {package}.db import SessionDep

    app = project.APP_FACTORY(settings)
    routes = app.router.routes
    first_items = next(
        index for index, route in enumerate(routes)
        if getattr(route, "original_router", None) is items.router
        or getattr(route, "path", "").startswith("/items")
    )
    before = len(routes)
    for r in range({routers}):
        router = APIRouter(prefix=f"/extra{{r}}")
        for n in range({routes}):
            async def endpoint(
                item_id: int, session: SessionDep, user: deps.CurrentUser
            ) -> dict[str, int]:
                return {{"id": item_id}}

            router.add_api_route(f"/r{{n}}/{{{{item_id}}}}", endpoint, methods=["GET"])
        app.include_router(router)
    added = routes[before:]
    del routes[before:]
    routes[first_items:first_items] = added
    mark_changed = getattr(app.router, "_mark_routes_changed", None)
    if mark_changed is not None:
        mark_changed()
    return app


@pytest.fixture
async def lifespan(request, app):
    """The conftest's, but `unchecked_*` tests skip the committed-rows check."""
    async with LifespanManager(app) as manager:
        if "unchecked" in request.node.name:
            yield manager
        else:
            async with guards.commits_checked(request.node, app):
                yield manager


@pytest.fixture(scope="session")
def large_worker_app(worker_settings):
    return guards.AppReset(_large_app(worker_settings))


@pytest.fixture
def app(request, worker_app, large_worker_app, test_settings):
    kind = request.node.name.removeprefix("test_bench_")
    if "newapp" in kind:  # the design before app reuse: a new app object per test
        build = _large_app if kind.startswith("large") else project.APP_FACTORY
        shared = guards.AppReset(build(test_settings))
    else:
        shared = large_worker_app if kind.startswith("large") else worker_app
    with shared.lent_to(request.node.nodeid, settings=test_settings) as lent:
        yield lent


class Rival:
    """The shared-loop design's per-test handle: a client and factories on the test's
    connection, all on the session's one app, engine and loop."""

    def __init__(self, app, manager, session, settings):
        self.app, self.session, self.settings = app, session, settings
        self.client = client_for(manager)
        self.hashed = app.state.password_hasher.hash(DEFAULT_PASSWORD)

    async def user(self):
        return await persist(self.session, UserFactory.build(hashed_password=self.hashed))

    async def item(self, owner):
        return await persist(self.session, ItemFactory.build(owner_id=owner.id))

    def headers_for(self, user):
        return {{"Authorization": f"Bearer {{project.mint_token(user.id, self.settings)}}"}}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def rival_app(worker_settings, worker_database_url):
    app = project.APP_FACTORY(worker_settings)
    async with LifespanManager(app) as manager:
        # That design connects to the server directly, once: its pool keeps the
        # connection, so only this first connect has to bypass the generated design's
        # pooler (tests/speedups.py), if there is one.
        pooled = getattr(speedups, "_pooled_databases", {{}})
        address = pooled.pop(worker_database_url.database, None)
        try:
            async with project.engine_of(app).connect():
                pass
        finally:
            if address is not None:
                pooled[worker_database_url.database] = address
        yield app, manager


@pytest_asyncio.fixture(loop_scope="session")
async def rival(rival_app, worker_settings):
    app, manager = rival_app
    async with project.engine_of(app).connect() as connection:
        transaction = await connection.begin()
        app.dependency_overrides[project.SESSION_DEPENDENCY] = sessions_on(connection)
        try:
            async with sessionmaker_on(connection)() as session:
                handle = Rival(app, manager, session, worker_settings)
                async with handle.client:
                    yield handle
        finally:
            app.dependency_overrides.pop(project.SESSION_DEPENDENCY, None)
            await transaction.rollback()
'''


def module_source(package: str, counts: Mapping[str, int], prelude: str = "") -> str:
    """The test module: fixtures, then the tests of every kind, interleaved by index."""
    parts = [
        '"""Synthetic tests written by the template\'s benchmarks/run.py."""',
        FIXTURES.format(package=package, routers=EXTRA_ROUTERS, routes=ROUTES_PER_ROUTER),
        prelude,
    ]
    for i in range(max(counts.values(), default=0)):
        for kind, count in counts.items():
            if i < count:
                parts.append(textwrap.dedent(KINDS[kind]).format(i=i))
    return "\n\n".join(part for part in parts if part)
