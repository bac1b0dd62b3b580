"""A database or Redis lost mid-run stops the run within seconds, not test by test.

Two ways to notice: a test that fails on an OS or driver error makes this plugin probe the
services at once; and a watchdog thread in the controller probes them once a second,
for what no failing test reports (under xdist the other workers run tests that do not
touch the lost service, and a Redis client backs off for seconds before it fails). Two
failed watchdog probes in a row are a loss (one slow connect under load is not). Either
way, pytest stops after the tests in flight with its usual summary and one line naming
the service and what to do, and session teardown skips what it cannot reach.
"""

import threading
from collections.abc import Generator

import pytest
from sqlalchemy.exc import DBAPIError

from . import workers

PROBE_INTERVAL_SECONDS = 1.0
FAILED_PROBES_TO_STOP = 2


class Watchdog:
    def __init__(self, session: pytest.Session) -> None:
        self._session = session
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="service-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _watch(self) -> None:
        failed = 0
        while not self._stopped.wait(PROBE_INTERVAL_SECONDS):
            try:
                answer = workers.services_answer(self._session.config)
                cause = None if answer else workers.lost_service_cause()
            except Exception:  # a probe that breaks says nothing about a loss
                cause = None
            failed = failed + 1 if cause else 0
            if cause and failed >= FAILED_PROBES_TO_STOP:
                workers.announce_loss(self._session.config, cause)
                # Read by pytest's loop after the test in flight (xdist workers read the
                # announcement instead, before their next test).
                self._session.shouldstop = cause
                return


WATCHDOG = pytest.StashKey[Watchdog]()


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # trylast: after plugin.py's session start took the run's lease.
    if not workers.is_xdist_worker(session.config) and workers.RUN_LEASE in session.config.stash:
        session.config.stash[WATCHDOG] = watchdog = Watchdog(session)
        watchdog.start()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if (watchdog := session.config.stash.get(WATCHDOG, None)) is not None:
        watchdog.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        report.failed
        and call.excinfo is not None
        and not item.session.shouldstop
        and _may_be_connection_loss(call.excinfo.value)
        and (cause := workers.lost_service_cause()) is not None
    ):
        # Instead of every remaining test failing one by one: stop after this one.
        workers.announce_loss(item.config, cause)
        item.session.shouldstop = cause
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> bool | None:
    """Run no further test once a service is known lost (by another xdist worker, or the
    watchdog): True tells pytest this test is dealt with, and the run stops."""
    if cause := workers.announced_loss(item.config):
        item.session.shouldstop = cause
        return True
    return None


def _may_be_connection_loss(error: BaseException) -> bool:
    """An OS or driver error anywhere in the chain: worth one probe of the services."""
    pending, seen = [error], set()
    while pending:
        exc = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, OSError | DBAPIError) or type(exc).__module__.startswith(
            ("asyncpg", "redis", "aiosqlite", "sqlite3")
        ):
            return True
        pending += [e for e in (exc.__cause__, exc.__context__) if e is not None]
        if isinstance(exc, BaseExceptionGroup):
            pending += exc.exceptions
    return False
