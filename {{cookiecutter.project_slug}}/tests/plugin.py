"""The harness's pytest hooks: session start and finish, and per-test guards (asyncio
timeout, tasks left running).

Registered by the conftest (`pytest_plugins`). The fixtures live in the conftest; this
module holds what pytest calls by hook name, and the helpers those fixtures share.
Session start runs once, in the controller process, synchronously and before any xdist
worker exists: it refuses non-test databases, fails fast when a service is down, checks
the names in `tests/project.py`, and migrates a template database that workers clone.
"""

import asyncio
import functools
import inspect
import os
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from . import database, guards, project, runs, workers
{%- if cookiecutter.use_redis == "y" %}
from .workers import check_redis, configured_redis_url, is_xdist_worker
{%- else %}
from .workers import is_xdist_worker
{%- endif %}

# A service lost mid-run stops the run: its hooks and watchdog are a plugin of their own.
pytest_plugins = ["tests.lost_service"]
DEFAULT_ASYNC_TIMEOUT_SECONDS = 10.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--create-db",
        action="store_true",
        help="Rebuild the migrated template database even if nothing it is built from "
        "changed (also TEST_CREATE_DB=1).",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    if is_xdist_worker(session.config):
        return
    url = database.configured_test_url()
    try:
        database.require_test_database(url)
        lease = runs.start_run(url)
        session.config.stash[workers.RUN_LEASE] = lease
{%- if cookiecutter.use_redis == "y" %}
        check_redis(configured_redis_url())
        settings = project.build_settings(
            url.render_as_string(hide_password=False), configured_redis_url()
        )
{%- else %}
        settings = project.build_settings(url.render_as_string(hide_password=False))
{%- endif %}
        if problems := project.check(settings):
            raise database.ProvisioningError(
                "tests/project.py names something that does not fit:\n- " + "\n- ".join(problems)
            )
        force = session.config.getoption("create_db") or os.environ.get("TEST_CREATE_DB") == "1"
        template = runs.ensure_template(lease, force_rebuild=force)
        session.config.stash[workers.TEMPLATE] = template
        dropped = runs.sweep_orphans(lease, template.fingerprint)
        session.config.stash[workers.ORPHANS_DROPPED] = dropped
    except database.ProvisioningError as exc:
        if workers.RUN_LEASE in session.config.stash:
            runs.finish_run(session.config.stash[workers.RUN_LEASE])
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: each worker learns the run's id and template from the controller."""
    node.workerinput.update(workers.for_workers(node.config))


def pytest_report_header(config: pytest.Config) -> list[str]:
    template = config.stash.get(workers.TEMPLATE, None)
    if template is None or is_xdist_worker(config):
        return []
    name = database.database_name(template.url)
    if template.built_seconds is None:
        how = f"{name} reused (migrations, models and server unchanged)"
    else:
        how = f"{name} built in {template.built_seconds:.2f} s"
    lines = [f"test run {config.stash[workers.RUN_LEASE].run_id}, template database {how}"]
    if dropped := config.stash.get(workers.ORPHANS_DROPPED, []):
        lines.append(f"removed what runs that died left: {', '.join(dropped)}")
    return lines


# trylast: after pytest has torn down the session fixtures that use the run's databases.
@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if is_xdist_worker(session.config):
        return
    if (lease := session.config.stash.get(workers.RUN_LEASE, None)) is not None:
        workers.forget_loss(session.config)
        runs.finish_run(lease)


# ── Per async test: one clock (the asyncio timeout) and no task left running ──────────

# pytest-timeout's backstop is for blocking code; for an async test it must fire after the
# asyncio timeout, or its traceback points at the event loop's poll instead of the test.
BACKSTOP_MARGIN_SECONDS = 5.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backstop = configured_backstop(config)
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            seconds = _timeout_for(item)
            if needed := backstop_for(item, seconds, backstop):
                item.add_marker(pytest.mark.timeout(needed), append=False)
            tasks_allowed = item.get_closest_marker("leaves_tasks") is not None
            item.obj = with_task_check(with_timeout(item.obj, seconds), tasks_allowed)


def configured_backstop(config: pytest.Config) -> float:
    """pytest-timeout's run-wide timeout, read as it reads it (option, then environment,
    then ini); 0 means none."""
    for value in (config.getoption("timeout", None), os.environ.get("PYTEST_TIMEOUT")):
        if value is not None and value != "":
            return float(value)
    try:
        return float(config.getini("timeout") or 0)
    except ValueError:  # pytest-timeout is not installed: no backstop
        return 0.0


def backstop_for(item: pytest.Item, seconds: float, backstop: float) -> float | None:
    """The backstop this async test needs so that its asyncio timeout fires first: None
    when the run-wide one already does. A test's own @pytest.mark.timeout that would fire
    first is refused, by name, before anything runs."""
    needed = seconds + BACKSTOP_MARGIN_SECONDS
    own = item.get_closest_marker("timeout")
    if own is not None:
        own_seconds = float(own.args[0] if own.args else own.kwargs.get("timeout", 0))
        if 0 < own_seconds < needed:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.timeout({own_seconds:g}) would fire before its "
                f"asyncio timeout ({seconds:g} s), and its traceback would point at the event "
                "loop, not at the test. Use @pytest.mark.async_timeout(seconds) for an async "
                f"test, or give timeout() at least {needed:g} s."
            )
        return None
    if 0 < backstop < needed:
        return needed
    return None


def _timeout_for(item: pytest.Function) -> float:
    marker = item.get_closest_marker("async_timeout")
    if marker is not None:
        return float(marker.args[0])
    return float(os.environ.get("TEST_TIMEOUT", DEFAULT_ASYNC_TIMEOUT_SECONDS))


AsyncTest = Callable[..., Coroutine[Any, Any, None]]


def with_timeout(test: AsyncTest, seconds: float) -> AsyncTest:
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


def with_task_check(test: AsyncTest, tasks_allowed: bool = False) -> AsyncTest:
    """Fail a test that returns while tasks it started are still running, naming their
    coroutines; they are cancelled and awaited, so they cannot run into the next test."""

    @functools.wraps(test)
    async def run_and_check_tasks(*args: Any, **kwargs: Any) -> None:
        before = asyncio.all_tasks()
        await test(*args, **kwargs)
        left = guards.still_running(before)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        if left and not tasks_allowed:
            raise guards.TasksLeftRunningError(guards.tasks_left_running_message(left))

    return run_and_check_tasks
