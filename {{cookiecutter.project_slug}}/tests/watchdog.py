"""Notice a lost database or Redis while tests run, even when no failing test says so.

A test that fails on a connection error makes plugin.py probe the services at once. This
thread covers the rest: under xdist the other workers run tests that do not touch the lost
service (they pass) or that retry before failing (Redis clients back off for seconds).
It probes the services once a second from the controller; two failed probes in a row
(a single slow connect under load is not a loss) stop the run after the tests in flight.
"""

import threading

import pytest

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
                cause = workers.lost_service_cause()
            except Exception:  # a probe that breaks says nothing about a loss
                cause = None
            failed = failed + 1 if cause else 0
            if cause and failed >= FAILED_PROBES_TO_STOP:
                workers.announce_loss(self._session.config, cause)
                # Read by pytest's loop after the test in flight (xdist workers read the
                # announcement instead, before their next test).
                self._session.shouldstop = cause
                return
