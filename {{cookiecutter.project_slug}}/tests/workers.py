"""Which databases and services this test process uses: shared by the hooks and fixtures.

The controller (plugin.py's session start) takes a lease for the run and readies the
template; xdist workers learn the run's id and template through `workerinput`.
"""

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
{%- if cookiecutter.use_redis == "y" %}
from redis import Redis
{%- endif %}
from sqlalchemy.engine import URL

from . import database, runs

RUN_LEASE = pytest.StashKey[runs.RunLease]()
TEMPLATE = pytest.StashKey[runs.TemplateState]()
ORPHANS_DROPPED = pytest.StashKey[list[str]]()
SERVICE_LOST = pytest.StashKey[str]()
_RUN_ID, _TEMPLATE_FINGERPRINT = "test_run_id", "test_template_fingerprint"
{%- if cookiecutter.use_redis == "y" %}

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_CONNECT_TIMEOUT_SECONDS = 3
{%- endif %}


def is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_name(config: pytest.Config) -> str:
    """`gw0`, `gw1`, ... under xdist; `main` in a plain run."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "main"


def for_workers(config: pytest.Config) -> dict[str, str]:
    """What an xdist worker needs from the controller's session start."""
    return {
        _RUN_ID: config.stash[RUN_LEASE].run_id,
        _TEMPLATE_FINGERPRINT: config.stash[TEMPLATE].fingerprint,
    }


def _from_controller(config: pytest.Config) -> dict[str, str]:
    workerinput: dict[str, str] | None = getattr(config, "workerinput", None)
    return workerinput if workerinput is not None else for_workers(config)


def worker_database_url(config: pytest.Config) -> URL:
    """This process's own database: `<test database>_<run id>_<worker>`."""
    run_id = _from_controller(config)[_RUN_ID]
    return runs.worker_url(database.configured_test_url(), run_id, worker_name(config))


def cloned_worker_database(config: pytest.Config) -> URL:
    """This process's own database, a fresh copy of the run's migrated template (or an
    emptied one an earlier run left as a spare: see runs.py)."""
    url = worker_database_url(config)
    fingerprint = _from_controller(config)[_TEMPLATE_FINGERPRINT]
    configured = database.configured_test_url()
    if not (speedups_enabled() and runs.claim_spare(configured, fingerprint, url)):
        database.clone_template(template_url(config), url)
    return url


def speedups_enabled() -> bool:
    # speedups.enabled(), not imported: pytest imports that module itself, as a plugin.
    return os.environ.get("TEST_SPEEDUPS", "1") != "0"


def release_worker_database(config: pytest.Config, url: URL, reusable: bool) -> None:
    """Drop this process's database, or keep it as a spare when it is empty."""
    if reusable and speedups_enabled():
        fingerprint = _from_controller(config)[_TEMPLATE_FINGERPRINT]
        runs.release_worker_database(database.configured_test_url(), fingerprint, url)
    else:
        database.drop_database(url)


def template_url(config: pytest.Config) -> URL:
    fingerprint = _from_controller(config)[_TEMPLATE_FINGERPRINT]
    return runs.template_url(database.configured_test_url(), fingerprint)


def service_lost(config: pytest.Config) -> bool:
    """A service stopped answering during the run (see plugin.py): nothing to clean up."""
    return SERVICE_LOST in config.stash


def _loss_flag(config: pytest.Config) -> Path:
    # Per run, so that concurrent runs (and later ones) do not read each other's flag.
    run_id = _from_controller(config)[_RUN_ID]
    return Path(tempfile.gettempdir()) / f"pytest-run-{run_id}.service-lost"


def announce_loss(config: pytest.Config, cause: str) -> None:
    """Record the loss, and tell this run's other processes: under xdist each worker would
    otherwise run every queued test that does not touch the lost service first."""
    config.stash[SERVICE_LOST] = cause
    _loss_flag(config).write_text(cause, encoding="utf-8")


def announced_loss(config: pytest.Config) -> str | None:
    """The cause another worker of this run announced, if any."""
    if SERVICE_LOST not in config.stash:
        try:
            config.stash[SERVICE_LOST] = _loss_flag(config).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
    return config.stash[SERVICE_LOST]


def forget_loss(config: pytest.Config) -> None:
    _loss_flag(config).unlink(missing_ok=True)


def lost_service_cause() -> str | None:
    """One line naming the service that no longer answers, or None when all answer."""
    url = database.configured_test_url()
    try:
        database.check_server(url)
    except database.ProvisioningError as exc:
        return _lost(f"The test database at {url.render_as_string(hide_password=True)}", exc)
{%- if cookiecutter.database == "postgresql" %}
    from . import speedups  # here, not at the top: speedups imports this module

    if (pooler := speedups.configured_pooler()) is not None:
        host, port = pooler
        try:
            database.check_server(url.set(host=host, port=port))
        except database.ProvisioningError as exc:
            return _lost(f"PgBouncer at {speedups.POOLER_ENV}={host}:{port}", exc)
{%- endif %}
{%- if cookiecutter.use_redis == "y" %}
    try:
        check_redis(configured_redis_url())
    except database.ProvisioningError as exc:
        return _lost(f"Redis at {configured_redis_url()}", exc)
{%- endif %}
    return None


def services_answer(config: pytest.Config) -> bool:
    """A cheap check for the watchdog: the run's open lease connection{% if cookiecutter.use_redis == "y" %} and a Redis PING{% endif %}.
    It creates no engine, so it never shows up in a test that watches engines."""
{%- if cookiecutter.use_redis == "y" %}
    if not config.stash[RUN_LEASE].answers():
        return False
    try:
        check_redis(configured_redis_url())
    except database.ProvisioningError:
        return False
    return True
{%- else %}
    return config.stash[RUN_LEASE].answers()
{%- endif %}


def _lost(service: str, exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    reason = " ".join(f"{type(cause).__name__}: {cause}".split())
    return (
        f"{service} stopped answering during the run ({reason}); "
        "stopped here. Restart it (`make up`) and run again: the next run removes the "
        "databases this one left."
    )
{%- if cookiecutter.use_redis == "y" %}


def configured_redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)


def check_redis(url: str) -> None:
    client = Redis.from_url(
        url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS, socket_timeout=3
    )
    try:
        client.ping()
    except Exception as exc:
        raise database.ProvisioningError(
            f"Cannot reach Redis at {url}: {type(exc).__name__}: {exc}\n"
            "Start the test services with `make up`, or set TEST_REDIS_URL."
        ) from exc
    finally:
        client.close()

{%- endif %}
