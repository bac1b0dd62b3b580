"""The adoption guide, applied to a project written the old way (tests/adoption/legacy_project).

Fast layer: every block docs/adopting-real-projects.md marks for adoption applies to the
legacy project and a bake's harness (a diff whose before side is not there fails here).
Full layer: run the legacy suite as it is, apply the guide (its own commands, files and
diffs), show that the real database catches the model the models package forgot, apply
the fix, and run the result serially, with `-n 2` and in random order, leaving nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from adoption_guide import (
    LEGACY_PROJECT,
    PACKAGE,
    TEMPLATE_DIR,
    Step,
    apply_file_step,
    copy_harness,
    harness_files,
    read_steps,
    touches_harness,
)
from baking import KEPT_BETWEEN_RUNS, Bake

# Ends in _test: the harness refuses anything else. Unique to this test, so no other
# bake or helper shares its databases (the harness derives _template, _main, _gw0, ...).
DATABASE = "legacy_adoption_test"
TEST_DATABASE_URL = f"postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/{DATABASE}?ssl=disable"
IMPORT_MARKER = "marker-4c1d"
COMMAND_TIMEOUT_SECONDS = 600
BAKE_ANSWERS = {
    "project_name": "Legacy Adoption",
    "package_name": PACKAGE,
    "use_redis": "n",
    "ci": "none",
}
ADOPTING_STEP = re.compile(r"^## \d+\. ", re.MULTILINE)
PROJECT_NAME = re.compile(r"^# \d+\. ", re.MULTILINE)


class Figures(NamedTuple):
    tests: int
    seconds: float
    median_ms: float

    def __str__(self) -> str:
        return f"{self.tests} tests, {self.seconds:.1f} s, per-test median {self.median_ms:.0f} ms"


def steps_by_action() -> tuple[list[Step], Step, list[str]]:
    steps = read_steps()
    copies = [step for step in steps if step.action == "copy"]
    assert len(copies) == 1, "the guide must have exactly one `copy` block"
    return steps, copies[0], harness_files(copies[0])


def apply_guide(project: Path, bake: Path, run: bool) -> list[Step]:
    """Everything but the deferred fixes: the project's own changes first, then the
    harness from the bake, then the guide's edits to the harness. Returns the fixes."""
    steps, _, names = steps_by_action()
    for step in steps:
        if step.action in {"copy", "fix"} or touches_harness(step, names):
            continue
        if step.action == "run":
            if run:
                shell(project, step.text)
            continue
        apply_file_step(project, step)
    copy_harness(bake, project, names)
    for step in steps:
        if step.action != "fix" and touches_harness(step, names):
            apply_file_step(project, step)
    return [step for step in steps if step.action == "fix"]


def copy_legacy_project(destination: Path) -> Path:
    ignored = shutil.ignore_patterns(".venv", "__pycache__", "uv.lock")
    return Path(shutil.copytree(LEGACY_PROJECT, destination, ignore=ignored))


# ── Fast: the guide's blocks fit the project they claim to fit ──────────────────────────


def test_every_adoption_block_applies(bake: Bake, tmp_path: Path) -> None:
    project = copy_legacy_project(tmp_path / "legacy")
    fixes = apply_guide(project, bake(**BAKE_ANSWERS), run=False)
    assert fixes, "the guide shows no fix for the forgotten model"
    for step in fixes:
        apply_file_step(project, step)
    assert not (project / "tests" / "test_services.py").read_text().count("anyio")
    # No test imports the old conftest's names any more: the harness's conftest replaced it.
    assert "SEED_EMAIL" not in (project / "tests" / "test_auth.py").read_text()


def test_the_final_step_is_copy_these_files_set_these_names(bake: Bake) -> None:
    adopting = (TEMPLATE_DIR / "docs" / "adopting.md").read_text(encoding="utf-8")
    steps = ADOPTING_STEP.findall(adopting)
    # Whitespace-normalised: the page wraps its lines anywhere.
    last_step = " ".join(
        adopting[[m.start() for m in ADOPTING_STEP.finditer(adopting)][-1] :].split()
    )
    _, _, names = steps_by_action()
    project_py = (bake(**BAKE_ANSWERS) / "tests" / "project.py").read_text(encoding="utf-8")
    names_to_set = len(PROJECT_NAME.findall(project_py))
    assert len(steps) <= 5
    assert last_step.startswith("## 5. Copy the harness, set the names")
    # The numbers the guide states are the numbers there are.
    assert f"copy these **{number_word(len(names))} files**" in last_step
    assert f"set the **{number_word(names_to_set)} names**" in last_step
    assert names_to_set <= 10
    for name in names:
        assert f"`{name}`" in last_step, f"adopting.md's file table does not list {name}"


NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)


def number_word(number: int) -> str:
    return NUMBER_WORDS.split(" ")[number]


# ── Full: the legacy suite before, the adopted suite after ──────────────────────────────


def clean_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "TEST_DATABASE_URL", "TEST_REDIS_URL", "PYTEST_ADDOPTS"}
        and not key.startswith(("PYTEST_XDIST", "POSTGRES_"))
    }
    return env | {"UV_PYTHON_DOWNLOADS": "never"}


def shell(project: Path, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = clean_env() | {"POSTGRES_DB": DATABASE} | extra
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"{script}\nfailed:\n{result.stdout[-3000:]}{result.stderr}"
    return result


def psql(*statements: str, database: str = "postgres") -> str:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-X", "-q", "-A", "-t"]
    for statement in statements:
        command += ["-c", statement]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=True, env=clean_env()
    )
    return result.stdout


def recreate_database() -> None:
    psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", f"CREATE DATABASE {DATABASE}")


def databases_left() -> list[str]:
    listed = psql(f"SELECT datname FROM pg_database WHERE datname LIKE '{DATABASE}%'")
    return sorted(line for line in listed.splitlines() if line)


def run_databases_left() -> list[str]:
    """Databases of finished runs, less the template and spares kept on purpose."""
    return [name for name in databases_left() if not KEPT_BETWEEN_RUNS.fullmatch(name)]


def run_pytest(
    project: Path, report: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    result = subprocess.run(
        [
            "uv",
            "run",
            "--no-progress",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *args,
        ],
        cwd=project,
        env=clean_env() | (env or {}),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    return result, time.perf_counter() - started


def figures(report: Path, seconds: float) -> Figures:
    """Tests and the median of each test's setup + call + teardown, from the JUnit report."""
    cases = ElementTree.parse(report).getroot().iter("testcase")
    durations = [float(case.get("time", "0")) for case in cases]
    return Figures(len(durations), seconds, statistics.median(durations) * 1000)


def registered_tables(project: Path) -> list[str]:
    """The table lists adopting.md's step 3 prints: the models package alone, then with the
    whole app imported. Its commands, with the guide's `app` read as this package."""
    adopting = (TEMPLATE_DIR / "docs" / "adopting.md").read_text(encoding="utf-8")
    commands = [line for line in adopting.splitlines() if line.startswith("uv run python -c")]
    assert len(commands) == 2, "adopting.md's registry check changed shape"
    script = "\n".join(re.sub(r"\bapp\.", f"{PACKAGE}.", command) for command in commands)
    return shell(project, script).stdout.splitlines()


def import_check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["uv", "run", "--no-progress", "python", "check_import_state.py", PACKAGE, IMPORT_MARKER],
        cwd=project,
        env=clean_env() | {"SECRET_KEY": IMPORT_MARKER, "POSTGRES_HOST": IMPORT_MARKER},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


# Two ways an app factory shares state between apps, each one the guide's test must catch.
INITIALISE_ONCE = (
    "    app.state.container = Container(app.state.settings)\n",
    "    global _shared\n"
    "    _shared = _shared or Container(app.state.settings)  # initialise once\n"
    "    app.state.container = _shared\n",
)
HANDLER_PER_APP = (
    "def create_app(settings=None):\n",
    "def create_app(settings=None):\n"
    "    import logging\n\n"
    '    logging.getLogger("legacy_app").addHandler(logging.StreamHandler())\n',
)


def app_factory_check_catches(project: Path, report: Path, break_it: tuple[str, str]) -> bool:
    main = project / "src" / PACKAGE / "main.py"
    original = main.read_text(encoding="utf-8")
    assert original.count(break_it[0]) == 1, f"main.py no longer has {break_it[0]!r}"
    broken = original.replace(break_it[0], break_it[1])
    main.write_text("_shared = None\n" + broken, encoding="utf-8")
    try:
        result, _ = run_pytest(
            project,
            report,
            "-q",
            "tests/test_app_factory.py",
            env={"TEST_DATABASE_URL": TEST_DATABASE_URL},
        )
    finally:
        main.write_text(original, encoding="utf-8")
    return result.returncode == 1 and "1 failed" in result.stdout


@pytest.fixture
def adoption_database() -> Iterator[None]:
    recreate_database()
    yield
    for name in databases_left():  # the configured one, and the template and spares it kept
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.full
@pytest.mark.usefixtures("adoption_database")
def test_the_guide_moves_the_legacy_project_onto_the_patterns(bake: Bake, tmp_path: Path) -> None:
    project = copy_legacy_project(tmp_path / "legacy")
    steps, _, names = steps_by_action()
    check_script = next(step for step in steps if step.path == "check_import_state.py")
    apply_file_step(project, check_script)

    # Before: the suite as it is (it leaks rows, and the import check finds what it opens).
    shell(project, "uv sync --no-progress")
    legacy, seconds = run_pytest(
        project, tmp_path / "before.xml", "-q", env={"POSTGRES_DB": DATABASE}
    )
    assert legacy.returncode == 0, legacy.stdout[-4000:]
    before = figures(tmp_path / "before.xml", seconds)
    leaked = psql(
        'SELECT count(*) FROM "user"', "SELECT count(*) FROM token_blacklist", database=DATABASE
    )
    opened = import_check(project)
    assert opened.returncode == 1, opened.stdout
    assert "an engine on postgresql+asyncpg" in opened.stdout
    assert f"{PACKAGE}.security.SECRET_KEY" in opened.stdout
    models_alone, with_app = registered_tables(project)
    assert models_alone != with_app, "the registry check misses the forgotten model"

    # The guide, applied: the project's changes, the first migration, the harness.
    recreate_database()
    fixes = apply_guide(project, bake(**BAKE_ANSWERS), run=True)
    test_env = {"TEST_DATABASE_URL": TEST_DATABASE_URL}

    # The real database catches the model the models package forgot.
    caught, _ = run_pytest(project, tmp_path / "caught.xml", "-q", env=test_env)
    assert caught.returncode == 1, caught.stdout[-4000:]
    assert "AutogenerateDiffsDetected" in caught.stdout
    assert "token_blacklist" in caught.stdout

    # The guide's fix, and the migration generated again.
    for step in fixes:
        apply_file_step(project, step)
    for migration in (project / "migrations" / "versions").glob("*.py"):
        migration.unlink()
    recreate_database()
    generate = next(
        step for step in steps if step.action == "run" and "alembic revision" in step.text
    )
    shell(project, generate.text)

    runs: dict[str, Figures] = {}
    for mode, args in {
        "serial": [],
        "-n 2": ["-n", "2"],
        "random": ["-p", "randomly"],
    }.items():
        result, seconds = run_pytest(project, tmp_path / "after.xml", "-q", *args, env=test_env)
        assert result.returncode == 0, f"{mode}:\n{result.stdout[-4000:]}"
        assert not re.search(r"\d+ (failed|errors?)", result.stdout.splitlines()[-1])
        runs[mode] = figures(tmp_path / "after.xml", seconds)
    # The harness fails a run that leaves rows; its run databases are gone after each run.
    assert run_databases_left() == [DATABASE]
    assert import_check(project).returncode == 0
    models_alone, with_app = registered_tables(project)
    assert models_alone == with_app
    # The guide's app-factory test really fails on an "initialise once" guard and on a
    # logging handler added per app.
    assert app_factory_check_catches(project, tmp_path / "guard.xml", INITIALISE_ONCE)
    assert app_factory_check_catches(project, tmp_path / "handler.xml", HANDLER_PER_APP)
    assert run_databases_left() == [DATABASE]

    adopting = (TEMPLATE_DIR / "docs" / "adopting.md").read_text(encoding="utf-8")
    print(
        f"\nadoption: {len(ADOPTING_STEP.findall(adopting))} guide steps, "
        f"{len(names)} files copied, "
        f"{len(PROJECT_NAME.findall((project / 'tests' / 'project.py').read_text()))} names set"
        f"\nbefore: {before}; rows left (user, token_blacklist): {leaked.split()}"
        + "".join(f"\nafter ({mode}): {run}" for mode, run in runs.items())
    )
    assert runs["serial"].tests > before.tests
