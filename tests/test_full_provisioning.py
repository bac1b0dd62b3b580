"""The full layer, for provisioning and session-level faults: a baked project's suite run
the way developers and CI run it, several at once, killed, with its services stopped.

- The migrated template is kept between runs and rebuilt only when a migration, a model
  (or the server) changed, or when asked (`--create-db`, `TEST_CREATE_DB=1`).
- Runs started at any time against one server all pass; a killed run's databases are
  removed by the next run, even a plain run after a killed `-n 2` one.
- Tables named `user` and `order` (SQL keywords) work: every identifier is quoted.
- A database or Redis lost mid-run stops the run within seconds, with pytest's summary
  and one line naming the cause; the next run cleans up.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pgbouncer
import pytest
from baking import Bake, Combination
from test_full_suites import (
    INSTALL_TIMEOUT_SECONDS,
    SUITE_TIMEOUT_SECONDS,
    leftover_test_databases,
    project_databases,
    project_env,
    run_in,
    run_suite,
)

pytestmark = pytest.mark.full

COMBINATIONS = [
    Combination("postgresql", "y", "none", "3.12", project_name="Full Prov Pg"),
    Combination("sqlite", "y", "none", "3.12", project_name="Full Prov Lite"),
]
TEMPLATE_LINE = re.compile(r"template database (\S+) (reused|built)")
SUMMARY_LINE = re.compile(r"^=+ .*\d+ (passed|failed).* in [\d.]+s .*=+$", re.MULTILINE)
RESULT = re.compile(r"(PASSED|FAILED|ERROR|XFAIL) ")
LOST_SERVICE_EXIT_SECONDS = 10


@pytest.fixture(scope="module", params=COMBINATIONS, ids=lambda combo: combo.id)
def project(request: pytest.FixtureRequest, bake_once: Bake) -> Path:
    combination: Combination = request.param
    baked = bake_once(**combination.answers)
    subprocess.run(
        ["uv", "sync", "--quiet", "--no-progress"],
        cwd=baked,
        env=project_env(),
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    return baked


def package_of(project: Path) -> str:
    return project.name.replace("-", "_")


def is_postgresql(project: Path) -> bool:
    settings = (project / "src" / package_of(project) / "settings.py").read_text("utf-8")
    return "postgresql" in settings


def template_of(output: str) -> tuple[str, str]:
    """(template name, "reused" or "built") from the run's header."""
    match = TEMPLATE_LINE.search(output)
    assert match, f"no template line in:\n{output[:3000]}"
    return match.group(1), match.group(2)


class Edit:
    """Append to a file of the baked project; undone at the end of the test."""

    def __init__(self) -> None:
        self.originals: dict[Path, str | None] = {}

    def append(self, path: Path, text: str) -> None:
        original = path.read_text("utf-8") if path.exists() else None
        self.originals.setdefault(path, original)
        path.write_text((original or "") + text, "utf-8")

    def replace(self, path: Path, old: str, new: str) -> None:
        original = path.read_text("utf-8")
        assert old in original, f"{old!r} not in {path}"
        self.originals.setdefault(path, original)
        path.write_text(original.replace(old, new), "utf-8")

    def undo(self) -> None:
        for path, original in self.originals.items():
            if original is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(original, "utf-8")


@pytest.fixture
def edit() -> Iterator[Edit]:
    edits = Edit()
    yield edits
    edits.undo()


# ── 18.2: the template is cached by fingerprint ─────────────────────────────────────────


def test_the_template_is_rebuilt_only_when_what_builds_it_changes(
    project: Path, edit: Edit
) -> None:
    one_file = "tests/test_health.py"  # and -v, which cancels run_suite's -q: the header
    forced, how = template_of(
        run_suite(project, "--create-db", "-v", one_file, "--create-db").output
    )
    assert how == "built"
    assert template_of(run_suite(project, "unchanged", "-v", one_file).output) == (forced, "reused")

    migration = project / "migrations" / "versions" / "0001_initial.py"
    edit.append(migration, "\n# A changed migration.\n")
    migrated, how = template_of(run_suite(project, "migration", "-v", one_file).output)
    assert (how, migrated != forced) == ("built", True)
    edit.undo()

    model = project / "src" / package_of(project) / "models" / "user.py"
    # An index the migrations lack: the metadata changes, the one test still runs.
    edit.append(
        model, '\nfrom sqlalchemy import Index\n\nIndex("ix_users_changed", User.full_name)\n'
    )
    modelled, how = template_of(run_suite(project, "model", "-v", one_file).output)
    assert (how, modelled not in {forced, migrated}) == ("built", True)
    edit.undo()

    assert template_of(run_suite(project, "unchanged", "-v", one_file).output)[1] == "built"
    assert template_of(run_suite(project, "unchanged", "-v", one_file).output) == (forced, "reused")
    env = {"TEST_CREATE_DB": "1"}
    assert template_of(run_suite(project, "forced", "-v", one_file, env=env).output) == (
        forced,
        "built",
    )
    # The templates of the edits were removed once no run used them.
    templates = [name for name in project_databases(project) if "_template_" in name]
    assert [name.split(".")[0] for name in templates] == [forced]


# ── 12.2: concurrent runs, killed runs ──────────────────────────────────────────────────


def start_suite(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["uv", "run", "--no-progress", "pytest", "-v", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=project_env() | {"PYTHONUNBUFFERED": "1"} | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_runs_started_at_any_time_all_pass(project: Path) -> None:
    runs = []
    for args in (["-n", "2"], [], ["-n", "2"]):
        runs.append(start_suite(project, *args))
        time.sleep(1.5)
    outputs = [run.communicate(timeout=SUITE_TIMEOUT_SECONDS)[0] for run in runs]

    for run, output in zip(runs, outputs, strict=True):
        summary = SUMMARY_LINE.findall(output)
        assert run.returncode == 0, output[-4000:]
        assert summary == ["passed"], output[-2000:]
    assert leftover_test_databases(project) == []


def read_until(process: subprocess.Popen[str], done: re.Pattern[str] | None, results: int) -> str:
    """The process's output up to `results` test results (and `done`, if given)."""
    assert process.stdout is not None
    seen = ""
    while line := process.stdout.readline():
        seen += line
        if len(RESULT.findall(seen)) >= results and (done is None or done.search(seen)):
            return seen
    raise AssertionError(f"the suite ended first:\n{seen[-3000:]}")


def test_a_killed_parallel_run_is_cleaned_up_by_the_next_plain_run(project: Path) -> None:
    with start_suite(project, "-n", "2") as killed:
        try:
            # Both workers have reported a result: both have their own database.
            read_until(killed, re.compile(r"(?s)\[gw0\].*\[gw1\]|\[gw1\].*\[gw0\]"), 4)
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait(timeout=30)
    left = leftover_test_databases(project)
    assert any("_gw0" in name for name in left), left
    assert any("_gw1" in name for name in left), left

    output = run_suite(project, "after kill", "-v", "tests/test_health.py").output
    assert "removed what runs that died left" in output
    assert leftover_test_databases(project) == []


# ── 12.4: keyword table names ───────────────────────────────────────────────────────────

KEYWORD_MODELS = '''"""Tables named like SQL keywords: the test harness must quote them."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Account(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), index=True)


class Order(Base):
    __tablename__ = "order"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
'''

KEYWORD_MIGRATION = '''"""Tables named user and order.

Revision ID: 0099
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
    )
    op.create_index(op.f("ix_user_name"), "user", ["name"], unique=False)
    op.create_table(
        "order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_order_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order")),
    )


def downgrade() -> None:
    op.drop_table("order")
    op.drop_index(op.f("ix_user_name"), table_name="user")
    op.drop_table("user")
'''

KEYWORD_TESTS = '''"""Rows in tables named user and order: rolled back, or committed and emptied."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from {package}.models.keywords import Account, Order


async def add_rows(session: AsyncSession) -> None:
    account = Account(name="keyword")
    session.add(account)
    await session.flush()
    session.add(Order(user_id=account.id))
    await session.flush()


async def test_rows_in_keyword_tables_are_rolled_back(db_session: AsyncSession) -> None:
    await add_rows(db_session)
    assert await db_session.scalar(select(func.count()).select_from(Order)) == 1


@pytest.mark.committing
async def test_committed_rows_in_keyword_tables_are_emptied(db_session: AsyncSession) -> None:
    await add_rows(db_session)
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Account)) == 1
'''


def test_tables_named_like_sql_keywords_work(project: Path, edit: Edit) -> None:
    package = project / "src" / package_of(project)
    edit.append(package / "models" / "keywords.py", KEYWORD_MODELS)
    edit.append(package / "models" / "__init__.py", "\nfrom .keywords import Account, Order\n")
    edit.append(project / "migrations" / "versions" / "0099_keywords.py", KEYWORD_MIGRATION)
    tests = project / "tests" / "test_keywords.py"
    edit.append(tests, KEYWORD_TESTS.replace("{package}", package_of(project)))
    # The project's own registry test lists its tables and models.
    registry_test = project / "tests" / "test_isolation.py"
    edit.replace(registry_test, '["items", "users"]', '["items", "order", "user", "users"]')
    edit.replace(registry_test, '["Item", "User"]', '["Account", "Item", "Order", "User"]')

    # The whole suite: `alembic check` and the up/down round trip see the new tables, the
    # committing test empties them, and each worker counts their rows at the end.
    run_suite(project, "keywords", "-p", "no:randomly")
    run_suite(project, "keywords -n 2", "-n", "2")
    assert "2 passed" in run_suite(project, "keywords only", str(tests)).output


# ── 12.1: a service lost mid-run ────────────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivatePostgres(NamedTuple):
    data: Path
    port: int

    def ctl(self, *args: str) -> None:
        command = ["pg_ctl", "-D", str(self.data), *args]
        # PostgreSQL refuses to run as root: run its tools as the postgres user.
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self.ctl(
            "-o",
            f"-p {self.port} -k {self.data.parent}",
            "-l",
            str(self.data.parent / "log"),
            "-w",
            "start",
        )

    def stop_immediately(self) -> None:
        self.ctl("-m", "immediate", "stop")

    def url(self, project: Path) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{package_of(project)}_test?ssl=disable"

    def databases(self) -> list[str]:
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-Atc",
                "SELECT datname FROM pg_database",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return result.stdout.split()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throwaway PostgreSQL server of this test's own, on a free port."""
    home = Path(tempfile.mkdtemp(prefix="lost-service-"))
    home.chmod(0o755)
    server = PrivatePostgres(home / "data", free_port())
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(home, "postgres")
    subprocess.run(
        [*as_user, "initdb", "-D", str(server.data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server.start()
    try:
        yield server
    finally:
        subprocess.run(
            [*as_user, "pg_ctl", "-D", str(server.data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(home, ignore_errors=True)


def kill_mid_run(
    project: Path, stop: Callable[[], None], args: list[str], env: dict[str, str]
) -> tuple[float, int, str]:
    """Run the suite, call `stop` after 8 test results; (seconds from `stop` to the
    suite's exit, its exit status, its output)."""
    with start_suite(project, *args, env=env) as run:
        try:
            seen = read_until(run, None, 8)
            stopped = time.perf_counter()
            stop()
            rest, _ = run.communicate(timeout=SUITE_TIMEOUT_SECONDS)
            return time.perf_counter() - stopped, run.returncode, seen + rest
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)


def assert_stopped_with_summary(seconds: float, status: int, output: str) -> None:
    assert status == pytest.ExitCode.INTERRUPTED, output[-4000:]
    assert "stopped answering during the run" in output, output[-4000:]
    assert SUMMARY_LINE.search(output), output[-4000:]
    assert "INTERNALERROR" not in output
    assert seconds < LOST_SERVICE_EXIT_SECONDS, f"{seconds:.1f} s:\n{output[-4000:]}"


PARALLELISM = pytest.mark.parametrize("args", [[], ["-n", "2"]], ids=["serial", "n2"])


@pytest.fixture(scope="module")
def postgresql_project(bake_once: Bake) -> Path:
    baked = bake_once(**COMBINATIONS[0].answers)
    subprocess.run(
        ["uv", "sync", "--quiet", "--no-progress"],
        cwd=baked,
        env=project_env(),
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    return baked


@PARALLELISM
def test_a_database_lost_mid_run_stops_the_run_within_seconds(
    postgresql_project: Path, private_postgres: PrivatePostgres, args: list[str]
) -> None:
    env = {"TEST_DATABASE_URL": private_postgres.url(postgresql_project)}
    stop = private_postgres.stop_immediately

    assert_stopped_with_summary(*kill_mid_run(postgresql_project, stop, args, env))

    # What the lost run could not drop, the next run does.
    private_postgres.start()
    run_suite(postgresql_project, "after the loss", "tests/test_health.py", env=env)
    run_databases = re.compile(r"\w+_test_(build_)?[0-9a-f]{8}(_\w+)?")
    assert [name for name in private_postgres.databases() if run_databases.fullmatch(name)] == []


@PARALLELISM
def test_a_pooler_lost_mid_run_stops_the_run_within_seconds(
    postgresql_project: Path, args: list[str]
) -> None:
    with pgbouncer.running() as pooler:
        env = {"TEST_DATABASE_POOLER": pooler.address}
        seconds, status, output = kill_mid_run(postgresql_project, pooler.stop, args, env)
    assert_stopped_with_summary(seconds, status, output)
    assert "PgBouncer at TEST_DATABASE_POOLER=" in output, output[-4000:]
    # The next run, direct, removes what the lost one left.
    run_suite(postgresql_project, "after the loss", "tests/test_health.py")
    assert leftover_test_databases(postgresql_project) == []


def test_a_pooler_in_front_of_another_server_stops_the_run_before_it_starts(
    postgresql_project: Path, private_postgres: PrivatePostgres
) -> None:
    before = project_databases(postgresql_project)
    with pgbouncer.running(server_port=private_postgres.port) as pooler:
        result = run_in(
            postgresql_project,
            ["uv", "run", "--no-progress", "pytest", "-q", "tests/test_health.py"],
            env={"TEST_DATABASE_POOLER": pooler.address},
        )
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output[-4000:]
    assert "leads to another PostgreSQL server than TEST_DATABASE_URL" in output, output[-4000:]
    assert project_databases(postgresql_project) == before  # refused before creating any


@pytest.fixture
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.kill()
        server.wait(timeout=30)


@PARALLELISM
def test_redis_lost_mid_run_stops_the_run_within_seconds(
    project: Path, private_redis: tuple[str, subprocess.Popen[bytes]], args: list[str]
) -> None:
    url, server = private_redis

    assert_stopped_with_summary(*kill_mid_run(project, server.kill, args, {"TEST_REDIS_URL": url}))
    assert leftover_test_databases(project) == []  # the database was there: all cleaned
