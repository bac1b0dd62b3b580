"""The harness's pytest hooks: session start and finish, and the per-test asyncio timeout.

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

from . import database, project
{%- if cookiecutter.use_redis == "y" %}
from .workers import check_redis, configured_redis_url, is_xdist_worker, template_url
{%- else %}
from .workers import is_xdist_worker, template_url
{%- endif %}

DEFAULT_ASYNC_TIMEOUT_SECONDS = 10.0


def pytest_sessionstart(session: pytest.Session) -> None:
    if is_xdist_worker(session.config):
        return
    url = database.configured_test_url()
    try:
        database.require_test_database(url)
        database.check_server(url)
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
        database.create_template(template_url(url))
    except database.ProvisioningError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if is_xdist_worker(session.config):
        return
    url = database.configured_test_url()
    if database.database_name(url).endswith(database.TEST_NAME_SUFFIX):
        database.drop_database(template_url(url))


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
