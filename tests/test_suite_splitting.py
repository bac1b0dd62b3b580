"""The generated CI's split of the suite into N jobs holds up (full layer).

A baked project gets a few hundred synthetic tests beside its own, runs them once with
`--store-durations` (as its README says to refresh `.test_durations`), and is then split
exactly as its CI splits it. For N = 1..4 the groups must be disjoint, together hold every
test exactly once, and each carry within 25% of an equal share of the stored durations.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from baking import Bake, Combination
from test_full_suites import INSTALL_TIMEOUT_SECONDS, project_env, run_in

pytestmark = pytest.mark.full

# SQLite without Redis: no shared services, so the stored durations vary less.
COMBINATION = Combination("sqlite", "n", "github", "3.12", project_name="Split Suite")
# No group can be shorter than its longest test (the project's own refuse-a-non-test-
# database test starts a pytest subprocess: ~2 s), so the suite is sized like one worth
# splitting four ways: ~10 s of stored durations, a quarter above its longest test.
SYNTHETIC_MODULES = 10
# Per module: sync tests without fixtures, tests with a factory row, authenticated requests.
SYNTHETIC_MODULE = textwrap.dedent(
    """
    import pytest


    @pytest.mark.parametrize("number", range(20))
    def test_bare(number: int) -> None:
        assert number >= 0


    @pytest.mark.parametrize("number", range(30))
    async def test_factory_row(user_factory, number):
        user = await user_factory()
        assert user.id is not None


    @pytest.mark.parametrize("number", range(30))
    async def test_authenticated_request(auth_client, number):
        response = await auth_client.get("/items")
        assert response.status_code == 200, response.text
    """
)
MAX_GROUPS = 4
BALANCE_TOLERANCE = 0.25


def pytest_command(project: Path, *args: str) -> list[str]:
    """pytest in the project's environment; pytest-split named when autoloading is off."""
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    load_split = ["-p", "pytest_split.plugin"] if "--disable-plugin-autoload" in pyproject else []
    return ["uv", "run", "--no-progress", "pytest", "-p", "no:cacheprovider", *load_split, *args]


def run_pytest(project: Path, *args: str) -> str:
    result = run_in(project, pytest_command(project, *args))
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"pytest {' '.join(args)} failed:\n{output[-6000:]}"
    return result.stdout


def collected(project: Path, *args: str) -> list[str]:
    output = run_pytest(project, "--collect-only", "-q", "--no-cov", *args)
    return [line for line in output.splitlines() if "::" in line]


@pytest.fixture(scope="module")
def project_with_durations(bake_once: Bake) -> Path:
    project = bake_once(**COMBINATION.answers)
    for number in range(SYNTHETIC_MODULES):
        module = project / "tests" / f"test_synthetic_{number}.py"
        module.write_text(SYNTHETIC_MODULE.lstrip(), encoding="utf-8")
    subprocess.run(
        ["uv", "sync", "--quiet", "--no-progress"],
        cwd=project,
        env=project_env(),
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    (project / ".test_durations").unlink()
    run_pytest(project, "-q", "--no-cov", "-p", "no:randomly", "--store-durations")
    return project


def test_the_splits_cover_every_test_once_and_balance(
    project_with_durations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with_durations
    every_test = collected(project)
    durations: dict[str, float] = json.loads(
        (project / ".test_durations").read_text(encoding="utf-8")
    )
    assert len(every_test) >= 300
    # Everything ran when the durations were stored: no test is split by a guess.
    assert set(every_test) <= set(durations)

    for splits in range(1, MAX_GROUPS + 1):
        groups = [
            collected(
                project,
                "--splitting-algorithm",
                "least_duration",
                "--splits",
                str(splits),
                "--group",
                str(group),
            )
            for group in range(1, splits + 1)
        ]
        counts = Counter(test for group in groups for test in group)
        assert set(counts) == set(every_test), f"{splits} groups lose or add tests"
        repeated = [test for test, count in counts.items() if count > 1]
        assert not repeated, f"{splits} groups share tests: {repeated[:5]}"

        loads = [sum(durations[test] for test in group) for group in groups]
        share = sum(loads) / splits
        assert all(abs(load - share) <= BALANCE_TOLERANCE * share for load in loads), (
            f"{splits} groups are not balanced: {[round(load, 2) for load in loads]} s"
        )
        with capsys.disabled():
            shown = ", ".join(f"{load:.2f}" for load in loads)
            print(f"\n[full] {len(every_test)} tests in {splits} group(s): {shown} s")
