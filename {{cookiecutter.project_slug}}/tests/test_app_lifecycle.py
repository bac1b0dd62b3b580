"""Proofs that each test gets its own app, whose lifespan creates and disposes the engine."""

import asyncio
import traceback

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

from .plugin import with_timeout
from .queries import QueryCounter


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


# The real thing, end to end: plugin.py wraps this test, the stuck await is cancelled,
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
