"""pytest plugin loaded by `benchmarks/run.py --profile` (`-p trace_plugin`): a timeline of
where one test's time goes, as the median over many tests of the same shape.

Marks come from pytest's fixture hooks and SQLAlchemy's pool and cursor events (public
APIs), plus best-effort wrappers around a few library calls worth seeing (ASGI request,
FastAPI's per-app route analysis, Redis connect, engine dispose, LifespanManager); a
wrapper whose target a library version lacks is skipped. The wrappers and events cost
a little time themselves, so the total runs slightly above the benchmark's median.
Only tests named in BENCH_TRACE_KINDS (comma-separated kinds) are traced; the result
goes to the JSON file named by BENCH_TRACE_OUT.
"""

import functools
import importlib
import inspect
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

_marks: list[tuple[float, str]] = []
_timelines: dict[str, list[list[tuple[str, float]]]] = {}
_KINDS = [kind for kind in os.environ.get("BENCH_TRACE_KINDS", "").split(",") if kind]


def _mark(what: str) -> None:
    _marks.append((time.perf_counter(), what))


@event.listens_for(Pool, "connect")
def _pool_connect(*_: Any) -> None:
    _mark("new DB connection opened (dialect first-connect setup follows)")


@event.listens_for(Pool, "checkout")
def _pool_checkout(*_: Any) -> None:
    _mark("connection checked out of the pool")


@event.listens_for(Pool, "close")
def _pool_close(*_: Any) -> None:
    _mark("DB connection closed")


@event.listens_for(Engine, "before_cursor_execute")
def _before_sql(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    _mark("SQL sent: " + " ".join(statement.split())[:48])


@event.listens_for(Engine, "after_cursor_execute")
def _after_sql(*_: Any) -> None:
    _mark("SQL done")


def _wrap(module: str, owner: str, name: str, label: str) -> None:
    """Mark entry and exit of `module.owner.name`, if this library version has it."""
    try:
        cls = getattr(importlib.import_module(module), owner)
        raw = inspect.getattr_static(cls, name)
    except (ImportError, AttributeError):
        return
    is_classmethod = isinstance(raw, classmethod)
    func: Callable[..., Any] = raw.__func__ if is_classmethod else raw
    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(func):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            _mark(f"{label} >")
            try:
                return await func(*args, **kwargs)
            finally:
                _mark(f"{label} <")

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _mark(f"{label} >")
            try:
                return func(*args, **kwargs)
            finally:
                _mark(f"{label} <")

    functools.update_wrapper(wrapper, func)
    setattr(cls, name, classmethod(wrapper) if is_classmethod else wrapper)


_wrap("asgi_lifespan", "LifespanManager", "__aenter__", "lifespan startup")
_wrap("asgi_lifespan", "LifespanManager", "__aexit__", "lifespan shutdown")
_wrap("httpx", "ASGITransport", "handle_async_request", "ASGI request")
_wrap("fastapi.routing", "_EffectiveRouteContext", "from_api_route", "FastAPI route analysis")
_wrap("redis.asyncio.connection", "AbstractConnection", "connect", "Redis connect")
_wrap("sqlalchemy.ext.asyncio", "AsyncEngine", "dispose", "engine dispose")


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> Generator[None, None, None]:
    _mark(f"fixture {fixturedef.argname} setup >")
    yield
    _mark(f"fixture {fixturedef.argname} setup <")


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_post_finalizer(
    fixturedef: pytest.FixtureDef[Any],
) -> Generator[None, None, None]:
    _mark(f"fixture {fixturedef.argname} finalized")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call() -> Generator[None, None, None]:
    _mark("test body >")
    yield
    _mark("test body <")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    _marks.clear()
    _mark("test starts")
    yield
    _mark("test ends")
    kind = item.name.removeprefix("test_bench_").rsplit("_", 1)[0]
    if kind in _KINDS:
        start = previous = _marks[0][0]
        steps = []
        for at, what in _marks[1:]:
            steps.append((what, at - previous))
            previous = at
        steps.append(("TOTAL", previous - start))
        _timelines.setdefault(kind, []).append(steps)


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get("BENCH_TRACE_OUT")
    if not out or hasattr(session.config, "workerinput"):
        return
    result = {}
    for kind, timelines in _timelines.items():
        # The first test of a session also sets up session fixtures: keep the tests whose
        # sequence of steps is the most common one, and take the median of each step.
        shapes = Counter(tuple(what for what, _ in steps) for steps in timelines)
        shape, count = shapes.most_common(1)[0]
        same = [steps for steps in timelines if tuple(what for what, _ in steps) == shape]
        medians = [
            (what, sorted(steps[i][1] for steps in same)[len(same) // 2])
            for i, what in enumerate(shape)
        ]
        result[kind] = {"tests": count, "steps": medians}
    Path(out).write_text(json.dumps(result))
