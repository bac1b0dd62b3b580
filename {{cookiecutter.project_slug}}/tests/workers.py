"""Which databases and services this test process uses: shared by the hooks and fixtures."""
{% if cookiecutter.use_redis == "y" %}
import os
{%- endif %}
from typing import Any

import pytest
{%- if cookiecutter.use_redis == "y" %}
from redis import Redis
{%- endif %}
from sqlalchemy.engine import URL

from . import database
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


def template_url(url: URL) -> URL:
    return database.derived_url(url, "template")
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
