"""Proofs of the per-test guards: a test's changes to the shared app do not reach the next
test, and a test that commits, leaves tasks running or would hit the wrong timeout fails
by its own name."""

import asyncio

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from {{ cookiecutter.package_name }}.models import User

from . import project
from .guards import AppReset, LeakedCommitsError, TasksLeftRunningError, fail_on_committed_rows
from .plugin import backstop_for, with_task_check


class _TaggingMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-leaked-middleware"] = "yes"
        return response


def _leaked_override() -> None:
    """A stand-in dependency a test installs and never removes."""


# Run twice, in any order, under xdist or not: each attempt finds the app as new, then
# leaves an override, a state value, a middleware and a route behind for the next.
@pytest.mark.parametrize("attempt", [1, 2])
async def test_a_tests_changes_to_the_app_do_not_reach_the_next_test(
    attempt: int, app: FastAPI
) -> None:
    assert app.dependency_overrides == {}
    assert not hasattr(app.state, "leaked")
    assert "_TaggingMiddleware" not in [getattr(m.cls, "__name__", "") for m in app.user_middleware]
    assert "/leaked" not in [getattr(route, "path", None) for route in app.routes]

    app.dependency_overrides[_leaked_override] = _leaked_override
    app.state.leaked = attempt
    app.add_middleware(_TaggingMiddleware)  # allowed: this test has not started the app
    app.add_api_route("/leaked", _leaked_override)

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/leaked")
    assert response.status_code == 200
    assert response.headers["x-leaked-middleware"] == "yes"


def test_a_change_the_harness_does_not_expect_is_reported_and_undone(
    worker_app: AppReset, app: FastAPI
) -> None:
    title = app.title
    app.title = "changed by a test"
    app.extra_attribute = "added by a test"  # type: ignore[attr-defined]

    assert worker_app.restore() == ["app.extra_attribute", "app.title"]
    assert app.title == title
    assert not hasattr(app, "extra_attribute")


async def test_a_commit_outside_the_test_transaction_fails_that_test_by_name(
    app: FastAPI, lifespan: LifespanManager
) -> None:
    engine = project.engine_of(app)
    async with AsyncSession(engine) as own_session:  # the mistake: a session of its own
        own_session.add(User(email="leak@example.com", hashed_password="x"))
        await own_session.commit()

    with pytest.raises(LeakedCommitsError) as excinfo:
        await fail_on_committed_rows(engine, project.METADATA, "tests/x.py::test_culprit")

    message = str(excinfo.value)
    assert message.startswith("tests/x.py::test_culprit committed rows")
    assert "{'users': 1}" in message
    assert "`db_session`" in message
    assert "@pytest.mark.committing" in message
    # Cleaned, so the next test is not blamed (this test's own check then passes too).
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.async_timeout(120)
async def test_an_async_tests_backstop_fires_after_its_asyncio_timeout(
    request: pytest.FixtureRequest,
) -> None:
    # pyproject's backstop is 60 s: this test's was raised above its 120 s asyncio timeout.
    backstop = request.node.get_closest_marker("timeout")
    assert backstop is not None
    assert backstop.args[0] > 120

    with pytest.raises(pytest.UsageError, match="would fire before its asyncio timeout"):
        backstop_for(request.node, seconds=backstop.args[0], backstop=60)


async def _waits_forever() -> None:
    await asyncio.Event().wait()


async def test_a_task_left_running_is_reported_by_its_coroutine_name() -> None:
    started: list[asyncio.Task[None]] = []

    async def a_test_that_forgets_its_task() -> None:
        started.append(asyncio.create_task(_waits_forever()))

    with pytest.raises(TasksLeftRunningError, match="_waits_forever"):
        await with_task_check(a_test_that_forgets_its_task)()
    assert started[0].cancelled()


# The real thing: plugin.py checks this test after it returns (strictly expected to fail).
@pytest.mark.xfail(raises=TasksLeftRunningError, strict=True, reason="proves the task check")
async def test_a_test_that_leaves_a_task_running_fails() -> None:
    asyncio.get_running_loop().create_task(_waits_forever())


_kept: set[asyncio.Task[None]] = set()


@pytest.mark.leaves_tasks
async def test_a_test_may_say_it_leaves_tasks_running() -> None:
    _kept.add(asyncio.create_task(_waits_forever()))
