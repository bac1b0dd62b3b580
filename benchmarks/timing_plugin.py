"""pytest plugin loaded by `benchmarks/run.py` (`-p timing_plugin`) into a generated project.

It records, per test, the duration pytest itself measures for setup, call and teardown
(fixture setup and teardown included), and how long the project's own
`pytest_sessionstart` took (template database + migrations). Under xdist the controller
receives every worker's reports, so loading it there is enough. The results go to the
JSON file named by BENCH_TIMINGS_OUT when the session ends.
"""

import json
import os
import time
from collections.abc import Generator
from pathlib import Path

import pytest

_durations: dict[str, dict[str, float]] = {}
_session: dict[str, float] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionstart(session: pytest.Session) -> Generator[None, None, None]:
    # A wrapper times every other implementation, the project's conftest included.
    started = time.perf_counter()
    yield
    _session["sessionstart_seconds"] = time.perf_counter() - started
    _session["tests_started_at"] = time.perf_counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _durations.setdefault(report.nodeid, {})[report.when] = report.duration
    if report.failed:
        _durations[report.nodeid]["failed"] = 1.0


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # xdist worker: its reports already went to the controller
    out = os.environ.get("BENCH_TIMINGS_OUT")
    if not out:
        return
    _session["tests_seconds"] = time.perf_counter() - _session.get("tests_started_at", 0.0)
    Path(out).write_text(json.dumps({"session": _session, "tests": _durations}))
