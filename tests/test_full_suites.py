"""The full layer: bake representative combinations and run each project's own suite.

Every option value appears in at least one combination. Each baked project gets its own
environment (`uv sync`) and runs its suite for real against the local PostgreSQL and
Redis: serially, with `-n 2`, and in random order. A missing service fails here (the
generated suite refuses to start), it is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pgbouncer
import pytest
from baking import KEPT_BETWEEN_RUNS, Bake, Combination, load_hook

pytestmark = pytest.mark.full

INSTALL_TIMEOUT_SECONDS = 600
SUITE_TIMEOUT_SECONDS = 600
PASSED_LINE = re.compile(r"(\d+) passed")
FAILED_LINE = re.compile(r"(\d+) (failed|errors?)")
FIRST_RESULT = re.compile(r"^tests/\S+\.py [.xsFE]", re.MULTILINE)


# Distinct project names give each project its own test database names.
REPRESENTATIVE = [
    Combination("postgresql", "y", "github", "3.12", project_name="Full Default"),
    Combination("sqlite", "n", "gitlab", "3.11", project_name="Full Lite"),
    Combination("postgresql", "n", "none", "3.13", project_name="Full Pg Plain"),
    Combination("sqlite", "y", "github", "3.12", project_name="Full Lite Redis"),
]


class SuiteRun(NamedTuple):
    mode: str
    passed: int
    seconds: float
    output: str


def project_env() -> dict[str, str]:
    """The environment a user's shell would have: no template venv, default test URLs.

    Without PYTHONDONTWRITEBYTECODE (some sandboxes set it), as on a developer's machine:
    with it, every pytest process redoes its assertion rewrite of the test plugins
    (faker, hypothesis, schemathesis), about 3 s each on a slow machine."""
    unset = {
        "VIRTUAL_ENV",
        "TEST_DATABASE_URL",
        "TEST_REDIS_URL",
        "PYTEST_ADDOPTS",
        "PYTHONDONTWRITEBYTECODE",
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in unset and not key.startswith("PYTEST_XDIST")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def run_in(
    project: Path, command: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`command` in the project's directory, as the user's shell would run it."""
    return subprocess.run(
        command,
        cwd=project,
        env=project_env() | (env or {}),
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_SECONDS,
        check=False,
    )


def run_suite(project: Path, mode: str, *args: str, env: dict[str, str] | None = None) -> SuiteRun:
    started = time.perf_counter()
    result = run_in(
        project,
        ["uv", "run", "--no-progress", "pytest", "-q", "-p", "no:cacheprovider", *args],
        env,
    )
    seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{mode} run failed in {project}:\n{output[-6000:]}"
    # pytest's summary is the last line of stdout (uv may add its own lines on stderr).
    summary = result.stdout.strip().splitlines()[-1]
    assert not FAILED_LINE.search(summary), summary
    passed = PASSED_LINE.search(summary)
    assert passed, f"no passed tests in: {summary}"
    return SuiteRun(mode, int(passed.group(1)), seconds, output)


@pytest.fixture(scope="module", params=REPRESENTATIVE, ids=lambda combo: combo.id)
def installed_project(request: pytest.FixtureRequest, bake_once: Bake) -> Path:
    combination: Combination = request.param
    project = bake_once(**combination.answers)
    subprocess.run(
        ["uv", "sync", "--quiet", "--no-progress"],
        cwd=project,
        env=project_env(),
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    return project


def report(capsys: pytest.CaptureFixture[str], project: Path, run: SuiteRun) -> None:
    with capsys.disabled():
        line = f"{project.name:<16} {run.mode:<12} {run.passed:>4} passed {run.seconds:6.1f} s"
        print(f"\n[full] {line}")


def test_suite_passes_serially(installed_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_suite(installed_project, "serial", "--cov")
    report(capsys, installed_project, run)
    # The coverage floor in the generated pyproject is enforced by this same run.
    assert "Required test coverage" in run.output


def test_a_subset_run_passes_without_the_coverage_floor(
    installed_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_suite(installed_project, "one file", "tests/test_items.py")
    report(capsys, installed_project, run)
    assert "Required test coverage" not in run.output


def test_installed_pytest_plugins_load_without_configuration(installed_project: Path) -> None:
    # anyio (installed with httpx) ships a pytest plugin; nothing in pyproject names it.
    result = run_in(
        installed_project,
        ["uv", "run", "--no-progress", "pytest", "--fixtures", "-q", "-p", "no:cacheprovider"],
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "anyio_backend" in result.stdout
    assert "anyio" not in (installed_project / "pyproject.toml").read_text(encoding="utf-8")


def test_suite_passes_without_speedups(
    installed_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_suite(installed_project, "no speedups", env={"TEST_SPEEDUPS": "0"})
    report(capsys, installed_project, run)
    assert "skipped" in run.output  # tests/test_speedups.py says the tricks are off


def test_the_printed_next_steps_work_in_order(installed_project: Path) -> None:
    """What the generator prints, run as printed, short of Docker (`make up`: the local
    services stand in for it) and the `cd` the test does by running in the project."""
    has_services = (installed_project / "compose.test.yaml").exists()
    steps = load_hook("post_gen_project").next_steps(installed_project.name, has_services)
    commands = [
        step.split("#")[0].strip() for step in steps if not step.startswith(("cd ", "make up"))
    ]
    assert commands[-2:] == ["make test", "make migrate"]
    package = installed_project.name.replace("-", "_")
    services = contextlib.ExitStack()
    env = {}
    if has_pooler_support(installed_project):
        # compose.test.yaml's PgBouncer, which `make test` uses, stands in here too.
        env["TEST_DATABASE_POOLER"] = services.enter_context(pgbouncer.running()).address
    try:
        for command in commands:
            result = run_in(installed_project, command.split(), env)
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"{command!r} failed:\n{output[-3000:]}"
    finally:
        services.close()
        # `make migrate` made the development database; it is not the suite's to keep.
        (installed_project / f"{package}.db").unlink(missing_ok=True)
        drop = f'DROP DATABASE IF EXISTS "{package}"'
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", drop],
            capture_output=True,
            check=False,
            timeout=30,
        )


@pytest.fixture(scope="module")
def private_pgbouncer() -> Iterator[pgbouncer.PgBouncer]:
    with pgbouncer.running() as pooler:
        yield pooler


def has_pooler_support(project: Path) -> bool:
    """PostgreSQL projects can route their tests through PgBouncer (tests/speedups.py)."""
    return "TEST_DATABASE_POOLER" in (project / "tests" / "speedups.py").read_text("utf-8")


def test_suite_passes_in_parallel(
    installed_project: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    if not has_pooler_support(installed_project):
        run = run_suite(installed_project, "-n 2", "-n", "2")
        report(capsys, installed_project, run)
        return
    # As `make test-parallel` runs it: through compose.test.yaml's PgBouncer (here a
    # private one configured the same way), so that path and its proofs run too.
    pooler: pgbouncer.PgBouncer = request.getfixturevalue("private_pgbouncer")
    logins_before = pooler.logins()
    run = run_suite(
        installed_project,
        "-n 2 pooled",
        "-n",
        "2",
        "-rs",
        env={"TEST_DATABASE_POOLER": pooler.address},
    )
    report(capsys, installed_project, run)
    assert "TEST_DATABASE_POOLER is not set" not in run.output  # the reset proof ran
    assert pooler.logins() - logins_before >= run.passed // 2  # tests connected through it
    assert leftover_test_databases(installed_project) == []


def test_suite_passes_in_random_order(
    installed_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = str(int(time.time()) % 100_000)
    run = run_suite(installed_project, f"seed={seed}", "-p", "randomly", f"--randomly-seed={seed}")
    # --randomly-seed is only understood when pytest-randomly is active: this run shuffled.
    report(capsys, installed_project, run)


def test_a_killed_run_does_not_break_the_next(
    installed_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SIGKILL mid-run: no teardown, no sessionfinish; databases are left behind.
    with subprocess.Popen(
        ["uv", "run", "--no-progress", "pytest", "-p", "no:cacheprovider"],
        cwd=installed_project,
        env=project_env() | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            assert process.stdout is not None
            # The first test result after a file name: session start is done, tests run.
            seen = ""
            while (char := process.stdout.read(1)) and not FIRST_RESULT.search(seen):
                seen += char
            assert FIRST_RESULT.search(seen), f"the suite ended before running a test:\n{seen}"
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    run = run_suite(installed_project, "after kill")
    report(capsys, installed_project, run)
    assert leftover_test_databases(installed_project) == []


def leftover_test_databases(project: Path) -> list[str]:
    """Databases (or SQLite files) of this project's runs still present after they ended."""
    return [name for name in project_databases(project) if not KEPT_BETWEEN_RUNS.fullmatch(name)]


def project_databases(project: Path) -> list[str]:
    """Every database (or SQLite file) named after this project's test database."""
    package = project.name.replace("-", "_")
    sqlite_files = sorted(path.name for path in (project / ".test-db").glob("*"))
    if (project / "src" / package / "db.py").read_text(encoding="utf-8").count("sqlite"):
        return sqlite_files
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SELECT datname FROM pg_database"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [name for name in result.stdout.split() if name.startswith(f"{package}_test")]


# Written into a baked project to prove the per-test guards end to end: each culprit fails
# itself, by name, and every innocent passes, in any order.
CULPRITS = """
import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from tests import project
from tests.factories import UserFactory

USERS = project.METADATA.tables["users"]


async def test_culprit_own_session(app, lifespan) -> None:
    async with AsyncSession(project.engine_of(app)) as session:
        session.add(UserFactory.build(hashed_password="x"))
        await session.commit()


async def test_culprit_own_connection(db_session, worker_database_url) -> None:
    engine = create_async_engine(worker_database_url, poolclass=NullPool)
    async with AsyncSession(engine) as session:
        session.add(UserFactory.build(hashed_password="x"))
        await session.commit()
    await engine.dispose()


@pytest.mark.committing
async def test_innocent_committing(db_session) -> None:
    assert await db_session.scalar(select(func.count()).select_from(USERS)) == 0
    db_session.add(UserFactory.build(hashed_password="x"))
    await db_session.commit()


@pytest.mark.parametrize("attempt", [1, 2, 3, 4])
async def test_innocent_sees_no_rows(attempt: int, db_session) -> None:
    assert await db_session.scalar(select(func.count()).select_from(USERS)) == 0


@pytest.mark.async_timeout(1.5)
async def test_culprit_hangs() -> None:
    await asyncio.Event().wait()


async def test_culprit_leaves_a_task() -> None:
    asyncio.get_running_loop().create_task(asyncio.sleep(30))
"""


def test_a_culprit_fails_by_name_in_any_order(installed_project: Path) -> None:
    module = installed_project / "tests" / "test_zz_culprits.py"
    module.write_text(CULPRITS)
    try:
        for seed in ("1", "2", "3"):
            result = run_in(
                installed_project,
                [
                    "uv",
                    "run",
                    "--no-progress",
                    "pytest",
                    str(module.relative_to(installed_project)),
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "randomly",
                    f"--randomly-seed={seed}",
                    # A backstop below the asyncio timeout: it must be raised, not fire first.
                    "--timeout",
                    "1",
                ],
            )
            output = result.stdout + result.stderr
            summary = result.stdout.strip().splitlines()[-1]
            # The two committing culprits pass their call and error at teardown.
            assert " 2 failed, 7 passed, 2 errors in " in summary, output
            for culprit in ("own_session", "own_connection"):
                assert f"ERROR at teardown of test_culprit_{culprit} " in output
                assert (
                    f"LeakedCommitsError: tests/test_zz_culprits.py::test_culprit_{culprit} "
                    "committed rows outside its rolled-back transaction: {'users': 1}"
                ) in output
            assert "FAILED tests/test_zz_culprits.py::test_culprit_hangs" in output
            assert "did not finish within 1.5 s" in output
            assert ">       await asyncio.Event().wait()" in output  # the test's own line
            assert "from pytest-timeout" not in output  # the backstop did not fire first
            assert (
                "TasksLeftRunningError: The test returned while tasks it started were still "
                "running: sleep."
            ) in output
            assert "test_innocent" not in "".join(
                line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))
            )
    finally:
        module.unlink()
