"""Template updates reach a generated project through cruft, offline (full layer).

A project is created with `cruft create` from a local git repository of this template,
committed, and changed on its side; the template repository gets a commit of its own;
`cruft update` must bring the template's change in, keep the project's, and leave a
project whose suite and pre-commit hooks still pass. Nothing here needs the network
except `uv sync` (the package index, as in every full-layer test).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest
from baking import TEMPLATE_DIR
from test_full_suites import project_env, run_suite

pytestmark = pytest.mark.full

COMMAND_TIMEOUT_SECONDS = 300
# SQLite without Redis: the round trip needs no shared services or database names.
ANSWERS = {
    "project_name": "Cruft Round Trip",
    "database": "sqlite",
    "use_redis": "n",
    "ci": "github",
    "license": "BSD-3-Clause",
}
PROJECT_SLUG = "cruft-round-trip"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}

PROJECT_NOTE = "Project-side note: this service bills customers."
TEMPLATE_NOTE = "Template-side note: added to the template after this project was made."
PROJECT_TEST = """def test_project_side_file_is_kept() -> None:
    assert sorted({"b", "a"}) == ["a", "b"]
"""
TEMPLATE_TEST = """def test_template_side_file_arrives() -> None:
    assert "-".join(["a", "b"]) == "a-b"
"""


class RoundTrip(NamedTuple):
    template: Path
    project: Path
    seconds: float


def command_env() -> dict[str, str]:
    return project_env() | GIT_IDENTITY


def run(cwd: Path, *command: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env or command_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`{' '.join(command)}` failed in {cwd}:\n{output[-6000:]}"
    return output


def cruft(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cruft", *args],
        cwd=cwd,
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def commit_all(repo: Path, message: str) -> str:
    run(repo, "git", "add", "--all")
    run(repo, "git", "commit", "--quiet", "--no-verify", "-m", message)
    return run(repo, "git", "rev-parse", "HEAD").strip()


def template_repository(destination: Path) -> Path:
    """A git repository holding this template as it is on disk (uncommitted edits
    included, ignored files left out), standing in for the template's remote."""
    listed = run(
        TEMPLATE_DIR, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"
    )
    for relative in filter(None, listed.split("\0")):
        source = TEMPLATE_DIR / relative
        if source.is_file():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    run(destination, "git", "init", "--quiet", "--initial-branch=main")
    commit_all(destination, "The template as tested")
    return destination


def change_the_project(project: Path) -> None:
    readme = project / "README.md"
    title, rest = readme.read_text(encoding="utf-8").split("\n", 1)
    readme.write_text(f"{title}\n\n{PROJECT_NOTE}\n{rest}", encoding="utf-8")
    (project / "tests" / "test_project_side.py").write_text(PROJECT_TEST, encoding="utf-8")
    commit_all(project, "Project-side change")


def change_the_template(template: Path) -> str:
    generated = template / "{{cookiecutter.project_slug}}"
    readme = generated / "README.md"
    readme.write_text(f"{readme.read_text(encoding='utf-8')}\n{TEMPLATE_NOTE}\n", encoding="utf-8")
    (generated / "tests" / "test_template_side.py").write_text(TEMPLATE_TEST, encoding="utf-8")
    return commit_all(template, "Template-side change")


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory, cookiecutter_config: Path) -> RoundTrip:
    """create -> commit -> change both sides -> update, timed; the project is left
    with the update committed and its environment installed."""
    root = tmp_path_factory.mktemp("cruft")
    template = template_repository(root / "template")
    started = time.perf_counter()

    created = cruft(
        root,
        "create",
        str(template),
        "--no-input",
        "--output-dir",
        str(root / "projects"),
        "--config-file",
        str(cookiecutter_config),
        "--extra-context",
        json.dumps(ANSWERS),
    )
    assert created.returncode == 0, created.stdout + created.stderr
    project = root / "projects" / PROJECT_SLUG
    run(project, "git", "init", "--quiet", "--initial-branch=main")
    commit_all(project, "Generated")
    change_the_project(project)
    new_template_commit = change_the_template(template)

    check = cruft(project, "check")
    assert check.returncode != 0, f"cruft check missed the template commit:\n{check.stdout}"

    updated = cruft(project, "update", "--skip-apply-ask", "--project-dir", ".")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == new_template_commit
    commit_all(project, "Template update")
    seconds = time.perf_counter() - started

    run(project, "uv", "sync", "--quiet", "--no-progress", env=project_env())
    return RoundTrip(template, project, seconds)


def test_the_generated_state_is_what_cruft_reads(
    tmp_path: Path, cookiecutter_config: Path, round_trip: RoundTrip
) -> None:
    # A plain cookiecutter bake from the same repository records the same origin
    # (the hook's .cruft.json), so `cruft check` works without `cruft create`.
    project = tmp_path / PROJECT_SLUG
    run(
        tmp_path,
        sys.executable,
        "-m",
        "cookiecutter",
        "--no-input",
        "--config-file",
        str(cookiecutter_config),
        str(round_trip.template),
        *(f"{key}={value}" for key, value in ANSWERS.items()),
    )
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    head = run(round_trip.template, "git", "rev-parse", "HEAD").strip()

    assert state["template"] == str(round_trip.template)
    assert state["commit"] == head
    assert {key: state["context"]["cookiecutter"][key] for key in ANSWERS} == ANSWERS
    assert "up to date" in cruft(project, "check").stdout


def test_update_brings_the_template_change_and_keeps_the_project_change(
    round_trip: RoundTrip, capsys: pytest.CaptureFixture[str]
) -> None:
    project = round_trip.project
    readme = (project / "README.md").read_text(encoding="utf-8")

    assert PROJECT_NOTE in readme
    assert TEMPLATE_NOTE in readme
    assert (project / "tests" / "test_project_side.py").read_text(encoding="utf-8") == PROJECT_TEST
    assert (project / "tests" / "test_template_side.py").read_text(encoding="utf-8") == (
        TEMPLATE_TEST
    )
    assert sorted(project.rglob("*.rej")) == []
    check = cruft(project, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    with capsys.disabled():
        print(f"\n[full] cruft create + check + update: {round_trip.seconds:.1f} s")


def test_the_updated_project_suite_passes(
    round_trip: RoundTrip, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = run_suite(round_trip.project, "after cruft update", "-rA")

    assert "PASSED tests/test_template_side.py::test_template_side_file_arrives" in suite.output
    assert "PASSED tests/test_project_side.py::test_project_side_file_is_kept" in suite.output
    with capsys.disabled():
        print(f"\n[full] {PROJECT_SLUG} after update: {suite.passed} passed {suite.seconds:.1f} s")


def test_pre_commit_hooks_pass_offline(round_trip: RoundTrip, tmp_path: Path) -> None:
    # UV_OFFLINE: the hooks may only use what `uv sync` installed; PRE_COMMIT_HOME: no
    # hook environments from earlier runs to lean on.
    env = project_env() | {"UV_OFFLINE": "1", "PRE_COMMIT_HOME": str(tmp_path / "pre-commit")}
    output = run(
        round_trip.project,
        "uv",
        "run",
        "pre-commit",
        "run",
        "--all-files",
        "--color=never",
        env=env,
    )

    for hook in ("ruff check", "ruff format", "mypy"):
        assert any(
            line.startswith(hook) and line.endswith("Passed") for line in output.splitlines()
        ), f"{hook} did not pass:\n{output}"
