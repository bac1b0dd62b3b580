"""Per-test guards: each fails the test that broke a rule, by name, and cleans up after it,
so the next test starts as if nothing had happened.

- `AppReset`: one app object serves every test of a process (its route analysis is paid
  once); after each test, whatever the test changed on it is put back, and anything the
  harness cannot put back fails the test.
- `committed_rows` / `LeakedCommitsError`: rows visible after the test's rollback were
  committed outside it.
- `still_running` / `TasksLeftRunningError`: tasks the test started and did not finish.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import database, project

# ── One app per process, reset after every test ─────────────────────────────────────────

# What a test may change, as on a new app: put back silently after it.
RESET_ON_APP = (
    "dependency_overrides",
    "user_middleware",
    "exception_handlers",
    # The schema FastAPI builds on the first request for it, and the routes it was built for.
    "openapi_schema",
    "_openapi_routes_version",
)
# Rebuilt on the next request, so a test may add middleware as it could on a new app.
REBUILT_ON_APP = ("middleware_stack",)
RESET_ON_ROUTER = ("routes", "_low_priority_routes", "_frontend_routes")
# A counter FastAPI bumps when routes change, to invalidate its route caches: it only
# ever goes up, so it is left as it is and bumped again when routes are put back.
ROUTES_VERSION = "_routes_version"


class AppLeakError(AssertionError):
    """A test changed the shared app in a way the harness does not reset."""


class AppReset:
    """A picture of a fresh app's mutable parts, and `restore()` to go back to it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.state = dict(vars(app.state)["_state"])
        self.on_app = _snapshot(vars(app))
        self.on_router = _snapshot(vars(app.router))

    @contextmanager
    def lent_to(self, test: str, **state: Any) -> Iterator[FastAPI]:
        """The app for one test, with `state` set on app.state; afterwards everything is
        put back, and a change a new app would not have let the test make fails it."""
        # Built on the test's first request, as on a new app: the test may add middleware.
        self.app.middleware_stack = None
        for name, value in state.items():
            setattr(self.app.state, name, value)
        yield self.app
        if changed := self.restore():
            raise AppLeakError(app_leak_message(test, changed))

    def restore(self) -> list[str]:
        """Put everything back; return what the test changed that a new app would not
        have let it change (anything but state, overrides, middleware, routes)."""
        state = vars(self.app.state)["_state"]
        state.clear()
        state.update(self.state)
        on_app = _restore(self.app, self.on_app)
        on_router = _restore(self.app.router, self.on_router)
        if on_router and ROUTES_VERSION in vars(self.app.router):
            # Never back to an old value: caches built on the test's routes must not match.
            setattr(self.app.router, ROUTES_VERSION, getattr(self.app.router, ROUTES_VERSION) + 1)
        self.app.middleware_stack = None
        return [f"app.{name}" for name in on_app if name not in RESET_ON_APP + REBUILT_ON_APP] + [
            f"app.router.{name}" for name in on_router if name not in RESET_ON_ROUTER
        ]


def _snapshot(attributes: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Each attribute's object and, for a list or dict, a shallow copy of its contents."""
    return {
        name: (value, value.copy() if isinstance(value, list | dict) else None)
        for name, value in attributes.items()
        if name != ROUTES_VERSION
    }


def _restore(target: object, snapshot: dict[str, tuple[Any, Any]]) -> list[str]:
    """Put `target`'s attributes back as in `snapshot`; return the names that changed."""
    current = {name: value for name, value in vars(target).items() if name != ROUTES_VERSION}
    changed: list[str] = []
    for name in set(current) | set(snapshot):
        if name not in snapshot:
            changed.append(name)
            delattr(target, name)
            continue
        original, contents = snapshot[name]
        value = current.get(name, _MISSING)
        if value is original and (contents is None or value == contents):
            continue
        changed.append(name)
        if isinstance(original, dict):
            original.clear()
            original.update(contents)
        elif isinstance(original, list):
            original[:] = contents
        setattr(target, name, original)
    return sorted(changed)


_MISSING = object()


def app_leak_message(test: str, changed: list[str]) -> str:
    return (
        f"{test} changed {', '.join(changed)} on the app, which this process shares between "
        "tests. The harness put it back, but only dependency_overrides, app.state, middleware, "
        "exception handlers and routes are expected to change. To test a differently built "
        "app, build your own: `project.APP_FACTORY(test_settings)`."
    )


# ── Commits outside the test's transaction ─────────────────────────────────────────────


class LeakedCommitsError(AssertionError):
    """A test committed rows outside its rolled-back transaction."""


async def committed_rows(connection: AsyncConnection, metadata: MetaData) -> dict[str, int]:
    """Tables with rows, as seen outside any test transaction. One statement when none
    has any (the usual case); counted only when something is there."""
    tables = metadata.sorted_tables
    present = await connection.execute(select(*(select(t).exists() for t in tables)))
    leaked = [table for table, has_rows in zip(tables, present.one(), strict=True) if has_rows]
    counts = {t.name: await connection.scalar(select(func.count()).select_from(t)) for t in leaked}
    return {name: int(rows or 0) for name, rows in counts.items()}


@asynccontextmanager
async def commits_checked(test: pytest.Item, app: FastAPI) -> AsyncIterator[None]:
    """Around a test's use of the running app: at the end, unless the test is marked
    `committing`, fail it if it committed outside its transaction."""
    yield
    if test.get_closest_marker("committing") is None:
        await fail_on_committed_rows(project.engine_of(app), project.METADATA, test.nodeid)


async def fail_on_committed_rows(engine: AsyncEngine, metadata: MetaData, test: str) -> None:
    """After a test's rollback: any row still there was committed by the test. Empty the
    tables (so no later test is blamed) and fail this one. Costs one statement, on a
    connection the pool already holds."""
    async with engine.connect() as connection:
        await connection.execution_options(**database.CHECK_OPTIONS)
        rows = await committed_rows(connection, metadata)
        if rows:
            await database.empty_tables(connection, metadata)
            await connection.commit()
    if rows:
        raise LeakedCommitsError(leaked_commits_message(test, rows))


def leaked_commits_message(test: str, rows: Mapping[str, int]) -> str:
    return (
        f"{test} committed rows outside its rolled-back transaction: {dict(rows)}. Something in "
        "it committed on a connection of its own (an AsyncSession or engine.begin() on the "
        "app's engine, or a driver connection to the test database). Use the `db_session` "
        "fixture (a commit there only releases a savepoint) or mark the test "
        "@pytest.mark.committing (real commits, tables emptied afterwards). The rows were "
        "removed, so the next test starts clean."
    )


# ── Tasks left running ─────────────────────────────────────────────────────────────────


class TasksLeftRunningError(AssertionError):
    """A test returned while tasks it started were still running."""


def still_running(started_before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Tasks on this loop, other than the caller's, started after `started_before`."""
    current = asyncio.current_task()
    return [
        task
        for task in asyncio.all_tasks()
        if task is not current and task not in started_before and not task.done()
    ]


def tasks_left_running_message(tasks: Iterable[asyncio.Task[Any]]) -> str:
    names = ", ".join(sorted(_coroutine_name(task) for task in tasks))
    return (
        f"The test returned while tasks it started were still running: {names}. They were "
        "cancelled. Await them (or cancel and await them) before the test ends, or mark the "
        "test @pytest.mark.leaves_tasks if leaving them is the point."
    )


def _coroutine_name(task: asyncio.Task[Any]) -> str:
    coroutine = task.get_coro()
    return getattr(coroutine, "__qualname__", None) or repr(coroutine)
