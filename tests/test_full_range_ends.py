"""The full layer at both ends of the declared dependency ranges.

A generated project declares ranges; users' other constraints can put any release in them
into their environment. One combination per database is installed at the newest releases
(`UV_RESOLUTION=highest`) and at every direct dependency's floor (`lowest-direct`), and
must pass `mypy --strict`, `ruff check` and its suite at both. A floor that the code has
outgrown fails here, with the installed versions in the message.
"""

from __future__ import annotations

import json
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
from baking import Bake, Combination
from packaging.requirements import Requirement
from packaging.version import Version
from test_full_suites import INSTALL_TIMEOUT_SECONDS, SUITE_TIMEOUT_SECONDS, project_env, run_suite

pytestmark = pytest.mark.full

# One combination per database (Redis on, so its client is declared too), installed at
# the newest releases the ranges allow and at every direct dependency's floor. Names of
# their own: their test databases never meet the other projects'.
RANGE_ENDS = [
    Combination("postgresql", "y", "github", "3.12", project_name="Full Range Pg"),
    Combination("sqlite", "y", "gitlab", "3.11", project_name="Full Range Lite"),
]
RESOLUTIONS = ["highest", "lowest-direct"]


def direct_requirements(project: Path) -> list[Requirement]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    declared: list[str] = pyproject["project"]["dependencies"]
    for group in pyproject["dependency-groups"].values():
        declared += [item for item in group if isinstance(item, str)]
    return [Requirement(item) for item in declared]


def installed_versions(project: Path, env: dict[str, str]) -> dict[str, str]:
    result = subprocess.run(
        ["uv", "pip", "list", "--format", "json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return {item["name"].lower(): item["version"] for item in json.loads(result.stdout)}


def floor(requirement: Requirement) -> Version:
    floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    assert len(floors) == 1, f"{requirement} has no single >= floor"
    return floors[0]


def is_at_floor(installed: str, requirement: Requirement) -> bool:
    """The floor's release, or its first patch where the floor names no patch (2.3 -> 2.3.1)."""
    release = floor(requirement).release
    return Version(installed).release[: len(release)] == release


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("combination", RANGE_ENDS, ids=lambda combo: combo.database)
def test_declared_range_end_installs_type_checks_and_passes(
    combination: Combination,
    resolution: str,
    bake_once: Bake,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"{combination.project_name} {resolution.split('-')[0]}"
    project = bake_once(**combination._replace(project_name=name).answers)
    # Every uv command below, `uv run` included, resolves the same way.
    env = project_env() | {"UV_RESOLUTION": resolution}
    started = time.perf_counter()
    subprocess.run(
        ["uv", "sync", "--quiet", "--no-progress"],
        cwd=project,
        env=env,
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    installed = installed_versions(project, env)
    direct = direct_requirements(project)
    versions = ", ".join(f"{req.name} {installed[req.name.lower()]}" for req in direct)
    if resolution == "lowest-direct":
        above = [
            f"{req.name} {installed[req.name.lower()]} (floor {floor(req)})"
            for req in direct
            if not is_at_floor(installed[req.name.lower()], req)
        ]
        assert not above, f"not installed at the declared floor: {above}"

    for tool in (["mypy"], ["ruff", "check", "--no-cache", "."]):
        result = subprocess.run(
            ["uv", "run", "--no-progress", *tool],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=SUITE_TIMEOUT_SECONDS,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"`{' '.join(tool)}` fails at {versions}:\n{output}"
    try:
        run_suite(project, resolution, env={"UV_RESOLUTION": resolution})
    except AssertionError as error:
        raise AssertionError(f"the suite fails at {versions}") from error
    with capsys.disabled():
        seconds = time.perf_counter() - started
        print(
            f"\n[full] {project.name:<24} {resolution:<13} install+mypy+ruff+suite {seconds:6.1f} s"
        )
