"""Proofs that each test gets its own app, whose lifespan creates and disposes the engine."""

import asyncio
import traceback

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
{%- else %}
from sqlalchemy import text
{%- endif %}

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import QueryCounter{% if cookiecutter.database == "postgresql" %}, _hang_up{% endif %}, with_timeout


def test_building_an_app_opens_nothing(app: FastAPI) -> None:
    # No engine at construction (or import) time: it belongs to the lifespan's loop.
    assert getattr(app.state, "database", None) is None


async def test_the_lifespan_creates_the_engine_and_shutdown_disposes_it(app: FastAPI) -> None:
    async with LifespanManager(app):
        engine = app.state.database.engine
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
        assert engine.pool.checkedin() == 1

    assert app.state.database is None
    assert engine.pool.checkedin() == 0


async def test_every_app_has_its_own_engine(
    app: FastAPI, lifespan: LifespanManager, test_settings: Settings
) -> None:
    other = create_app(test_settings)
    async with LifespanManager(other):
        assert other.state.database.engine is not app.state.database.engine


async def test_a_stuck_await_fails_with_a_timeout_that_names_it() -> None:
    async def stuck_on_an_event_nobody_sets() -> None:
        await asyncio.Event().wait()

    guarded = with_timeout(stuck_on_an_event_nobody_sets, seconds=0.05)

    with pytest.raises(TimeoutError) as excinfo:
        await guarded()

    assert "did not finish within 0.05 s" in excinfo.value.__notes__[0]
    # The chained CancelledError's traceback points at the await that never returned.
    assert "await asyncio.Event().wait()" in "".join(traceback.format_exception(excinfo.value))
    # The loop is still healthy: the next await in the same test works.
    await asyncio.sleep(0)


# The real thing, end to end: the conftest wraps this test, the stuck await is cancelled,
# this test fails (strictly expected here), and the run goes on with the next test.
@pytest.mark.xfail(raises=TimeoutError, strict=True, reason="proves the per-test timeout")
@pytest.mark.async_timeout(0.05)
async def test_a_stuck_test_is_failed_by_its_timeout_and_the_run_goes_on() -> None:
    await asyncio.Event().wait()


async def test_assert_max_queries_catches_extra_queries(
    assert_max_queries: QueryCounter, app: FastAPI
) -> None:
    async def two_queries() -> None:
        async with app.state.database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await connection.execute(text("SELECT 2"))

    with (
        pytest.raises(AssertionError, match="2 queries, at most 1 expected"),
        assert_max_queries(1),
    ):
        await two_queries()
{%- if cookiecutter.database == "postgresql" %}


async def test_the_test_database_runs_without_jit(db_session: AsyncSession) -> None:
    # Set on each worker database when it is cloned (tests/database.py).
    assert await db_session.scalar(text("SHOW jit")) == "off"


async def test_hanging_up_ends_the_server_session_and_leaves_nothing_to_close(
    app: FastAPI, lifespan: LifespanManager
) -> None:
    # What db_session's teardown does with the test's connection, observed from outside.
    engine = app.state.database.engine
    async with engine.connect() as connection:
        server_pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        await connection.rollback()
        await _hang_up(connection)
    # The pool keeps the slot but no open connection: dispose() has nothing to close.
    closed_by_dispose: list[object] = []
    event.listen(engine.sync_engine.pool, "close", lambda *args: closed_by_dispose.append(args))
    await engine.dispose()
    assert closed_by_dispose == []

    sessions_left = -1
    async with engine.connect() as observer:
        for _ in range(200):  # the server process exits within milliseconds
            sessions_left = await observer.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": server_pid}
            )
            if sessions_left == 0:
                break
            await asyncio.sleep(0.005)
    assert sessions_left == 0
{%- endif %}
