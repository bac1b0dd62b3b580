"""The suite refuses databases not named for tests and fails fast when services are down."""

import os
import subprocess
import sys

import pytest
from sqlalchemy.engine import URL, make_url

from {{ cookiecutter.package_name }}.settings import DATABASE_NAME

from . import database, project


def _url_named(name: str) -> URL:
{%- if cookiecutter.database == "postgresql" %}
    return make_url(database.DEFAULT_TEST_DATABASE_URL).set(database=name)
{%- else %}
    return make_url(f"sqlite+aiosqlite:///./.test-db/{name}.db")
{%- endif %}


# The production database's name comes first.
PRODUCTION_NAME = DATABASE_NAME


@pytest.mark.parametrize("name", [PRODUCTION_NAME, "production", "test_data", "testing"])
def test_a_database_not_named_for_tests_is_refused(name: str) -> None:
    with pytest.raises(database.ProvisioningError, match="does not end in '_test'"):
        database.require_test_database(_url_named(name))


def test_a_database_named_for_tests_is_accepted() -> None:
    database.require_test_database(make_url(database.DEFAULT_TEST_DATABASE_URL))


def _run_suite_with(test_database_url: str) -> subprocess.CompletedProcess[str]:
    """Start a real pytest session (collection only) with another TEST_DATABASE_URL."""
    env = {**os.environ, "TEST_DATABASE_URL": test_database_url}
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "--no-cov"]
    return subprocess.run(  # noqa: S603 - fixed argv: this interpreter running pytest
        [*command, "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=project.PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_session_refuses_a_non_test_database() -> None:
    url = _url_named(PRODUCTION_NAME)

    result = _run_suite_with(url.render_as_string(hide_password=False))

    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "Refusing to run" in result.stdout + result.stderr
{%- if cookiecutter.database == "postgresql" %}


def test_the_session_fails_fast_with_instructions_when_the_server_is_down() -> None:
    # Nothing listens on port 1: the connection is refused at once.
    url = make_url(database.DEFAULT_TEST_DATABASE_URL).set(port=1)

    result = _run_suite_with(url.render_as_string(hide_password=False))

    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "Cannot reach PostgreSQL" in result.stdout + result.stderr
    assert "make up" in result.stdout + result.stderr
{%- endif %}
