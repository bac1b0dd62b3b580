"""Bake every option combination and check what comes out (the fast layer).

Each combination is baked once per session (`bake_once`); every check below is a
separate test on that shared bake. Linters and the type checker come from the
template's own environment, whose dev group holds every generated dependency.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from baking import PROJECT_TEMPLATE_DIR, TEMPLATE_DIR, Bake, Combination, default_answers, load_hook
from packaging.requirements import Requirement

DOCKER_COMPOSE = "/usr/bin/docker-compose"
SUBPROCESS_TIMEOUT_SECONDS = 300

TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#|cookiecutter", re.IGNORECASE)
# GitHub Actions expressions are meant to survive rendering (written via raw blocks).
GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
# cruft's state file names cookiecutter's context by its key; its values are checked.
CRUFT_CONTEXT_KEY = re.compile(r'^\s*"cookiecutter": \{$', re.MULTILINE)
# Caches a linter might leave behind are not part of the generated project.
IGNORED_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".venv"}
ALLOWED_EMPTY_FILES = {"__init__.py", "py.typed", ".gitkeep"}

COMMON_FILES = (
    "pyproject.toml",
    "README.md",
    "Makefile",
    "compose.yaml",
    "Dockerfile",
    ".dockerignore",
    ".gitignore",
    ".env.example",
    ".env",
    ".editorconfig",
    ".pre-commit-config.yaml",
    ".cruft.json",
    ".test_durations",
    "LICENSE",
    "alembic.ini",
    "migrations/env.py",
    "migrations/script.py.mako",
    "migrations/versions/0001_initial.py",
    "src/{package}/__init__.py",
    "src/{package}/main.py",
    "src/{package}/settings.py",
    "src/{package}/db.py",
    "src/{package}/security.py",
    "src/{package}/errors.py",
    "src/{package}/limits.py",
    "src/{package}/middleware.py",
    "src/{package}/py.typed",
    "src/{package}/models/__init__.py",
    "src/{package}/models/base.py",
    "src/{package}/models/user.py",
    "src/{package}/models/item.py",
    "src/{package}/api/__init__.py",
    "src/{package}/api/deps.py",
    "src/{package}/api/health.py",
    "src/{package}/api/auth.py",
    "src/{package}/api/users.py",
    "src/{package}/api/items.py",
    "src/{package}/api/responses.py",
    "src/{package}/services/__init__.py",
    "src/{package}/services/users.py",
    "src/{package}/services/items.py",
    "tests/conftest.py",
    "tests/plugin.py",
    "tests/project.py",
    "tests/workers.py",
    "tests/sessions.py",
    "tests/queries.py",
    "tests/speedups.py",
    "tests/factories.py",
    "tests/database.py",
    "tests/test_contract.py",
    "tests/runs.py",
    "tests/fingerprint.py",
    "tests/lost_service.py",
)
REDIS_FILES = ("src/{package}/rate_limit.py", "tests/test_rate_limit.py")
GITHUB_FILES = (".github/workflows/ci.yml",)
GITLAB_FILES = (".gitlab-ci.yml",)
TEST_SERVICES_FILES = ("compose.test.yaml",)
CI_FILES = GITHUB_FILES + GITLAB_FILES


def all_combinations() -> list[Combination]:
    """Every database x use_redis x ci, from cookiecutter.json so new choices are
    covered automatically; python_version and license are cycled so that each version
    meets every CI choice and each license is baked at least twice."""
    choices = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    versions = choices["python_version"]
    licenses = choices["license"]
    product = itertools.product(choices["database"], choices["use_redis"], choices["ci"])
    per_group = len(choices["ci"])
    return [
        Combination(
            database,
            use_redis,
            ci,
            versions[(index + index // per_group) % len(versions)],
            license=licenses[index % len(licenses)],
        )
        for index, (database, use_redis, ci) in enumerate(product)
    ]


COMBINATIONS = all_combinations()


@pytest.fixture(params=COMBINATIONS, ids=[combination.id for combination in COMBINATIONS])
def combination(request: pytest.FixtureRequest) -> Combination:
    param: Combination = request.param
    return param


@pytest.fixture
def project(combination: Combination, bake_once: Bake) -> Path:
    return bake_once(**combination.answers)


@pytest.fixture(scope="session")
def mypy_cache_dir(request: pytest.FixtureRequest) -> Path:
    """One cache for every bake and xdist worker (and kept between runs), so only
    the first mypy run pays for FastAPI, SQLAlchemy and Pydantic."""
    return request.config.cache.mkdir("mypy-baked-projects")


# --- helpers ----------------------------------------------------------------------


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, (
        f"`{' '.join(command)}` failed in {cwd} (exit {result.returncode}):\n"
        f"{result.stdout}\n{result.stderr}"
    )


def project_files(project: Path) -> Iterator[Path]:
    for path in sorted(project.rglob("*")):
        if path.is_file() and not IGNORED_DIRS.intersection(path.relative_to(project).parts):
            yield path


def read_text_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def expected_paths(combination: Combination, package: str) -> tuple[set[str], set[str]]:
    """(paths that must exist, paths that must not) for this combination."""
    optional = {
        REDIS_FILES: combination.use_redis == "y",
        GITHUB_FILES: combination.ci == "github",
        GITLAB_FILES: combination.ci == "gitlab",
        TEST_SERVICES_FILES: combination.has_test_services,
    }
    present = set(COMMON_FILES)
    absent: set[str] = set()
    for paths, enabled in optional.items():
        (present if enabled else absent).update(paths)
    return {p.format(package=package) for p in present}, {p.format(package=package) for p in absent}


def parse_env_file(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.lstrip().startswith("#")}


def generated_pyproject(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))


def generated_requirements(project: Path) -> list[Requirement]:
    pyproject = generated_pyproject(project)
    declared = pyproject["project"].get("dependencies", [])
    for group in pyproject.get("dependency-groups", {}).values():
        declared += [item for item in group if isinstance(item, str)]
    return [Requirement(item) for item in declared]


def requirement_closure(requirements: list[Requirement]) -> set[str]:
    """Names of the installed distributions these requirements pull in, transitively."""
    seen: set[str] = set()
    pending = [(requirement, "") for requirement in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = metadata.distribution(requirement.name).metadata["Name"]
        for requested_extra in ["", *requirement.extras]:
            key = f"{name}[{requested_extra}]"
            if key in seen:
                continue
            seen.add(key)
            for child in metadata.requires(name) or []:
                pending.append((Requirement(child), requested_extra))
    return {key.split("[")[0] for key in seen}


def top_level_modules(distributions: set[str]) -> set[str]:
    normalized = {name.lower().replace("_", "-") for name in distributions}
    return {
        module
        for module, owners in metadata.packages_distributions().items()
        if any(owner.lower().replace("_", "-") in normalized for owner in owners)
    }


# --- the baked content ------------------------------------------------------------


def test_no_template_syntax_left(project: Path) -> None:
    leftovers = []
    for path in project_files(project):
        text = read_text_or_none(path)
        if text is None:
            continue
        relative = path.relative_to(project)
        if relative.parts[0] == ".github":
            text = GITHUB_EXPRESSION.sub("", text)
        if relative == Path(".cruft.json"):
            text = CRUFT_CONTEXT_KEY.sub("", text, count=1)
        for number, line in enumerate(text.splitlines(), start=1):
            if TEMPLATE_SYNTAX.search(line):
                leftovers.append(f"{relative}:{number}: {line.strip()}")
    assert not leftovers, "template syntax left in the baked project:\n" + "\n".join(leftovers)


def test_common_files_present(project: Path, combination: Combination) -> None:
    present, _ = expected_paths(combination, default_answers()["package_name"])
    missing = sorted(path for path in present if not (project / path).is_file())
    assert not missing, f"missing files: {missing}"


def test_disabled_option_files_absent(project: Path, combination: Combination) -> None:
    _, absent = expected_paths(combination, default_answers()["package_name"])
    if combination.ci != "github":
        absent.add(".github")
    leftover = sorted(path for path in absent if (project / path).exists())
    assert not leftover, f"files of disabled options left behind: {leftover}"


def test_exactly_one_conftest(project: Path) -> None:
    conftests = [path.relative_to(project) for path in project.rglob("conftest.py")]
    assert conftests == [Path("tests/conftest.py")]


def test_one_database_variant_kept_under_its_plain_name(
    project: Path, combination: Combination
) -> None:
    variants = sorted(
        str(path.relative_to(project))
        for path in project.rglob("*.py")
        if path.name.split(".")[1:2] in (["postgresql"], ["sqlite"])
    )
    assert variants == []
    provisioning = (project / "tests" / "database.py").read_text(encoding="utf-8")
    expected = {"postgresql": "(PostgreSQL)", "sqlite": "(SQLite files)"}[combination.database]
    assert expected in provisioning.splitlines()[0]


def test_the_conftest_holds_fixtures_only(project: Path) -> None:
    conftest = (project / "tests" / "conftest.py").read_text(encoding="utf-8")
    assert len(conftest.splitlines()) < 200
    assert "def pytest_" not in conftest  # hooks live in tests/plugin.py


def test_no_empty_files(project: Path) -> None:
    # An option's file rendered to nothing means the manifest missed it.
    empty = [
        str(path.relative_to(project))
        for path in project_files(project)
        if path.stat().st_size == 0 and path.name not in ALLOWED_EMPTY_FILES
    ]
    assert not empty, f"empty files: {empty}"


def test_requires_python_stays_311(project: Path) -> None:
    assert generated_pyproject(project)["project"]["requires-python"] == ">=3.11"


def test_python_version_drives_docker_and_ci(project: Path, combination: Combination) -> None:
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(rf"python:{re.escape(combination.python_version)}\b", dockerfile)
    for ci_file in CI_FILES:
        if (project / ci_file).exists():
            assert combination.python_version in (project / ci_file).read_text(encoding="utf-8")


def test_ci_files_parse(project: Path, combination: Combination) -> None:
    ci_files = [project / path for path in CI_FILES if (project / path).exists()]
    assert bool(ci_files) is (combination.ci != "none")
    for ci_file in ci_files:
        parsed = yaml.safe_load(ci_file.read_text(encoding="utf-8"))
        assert isinstance(parsed, dict), f"{ci_file.name} is not a YAML mapping"
        assert parsed, f"{ci_file.name} is empty"


# --- the post-generation hook's output --------------------------------------------


def test_env_file_has_a_generated_secret_key(project: Path) -> None:
    example = (project / ".env.example").read_text(encoding="utf-8")
    env = (project / ".env").read_text(encoding="utf-8")
    secret_key = parse_env_file(env).get("SECRET_KEY", "")

    assert len(secret_key) >= 32
    assert secret_key != parse_env_file(example).get("SECRET_KEY")
    # Everything but the key is a verbatim copy of the example.
    assert [line for line in env.splitlines() if not line.startswith("SECRET_KEY=")] == [
        line for line in example.splitlines() if not line.startswith("SECRET_KEY=")
    ]


def test_secret_key_differs_between_bakes(bake: Bake, bake_once: Bake) -> None:
    first = parse_env_file((bake() / ".env").read_text(encoding="utf-8"))
    second = parse_env_file((bake_once() / ".env").read_text(encoding="utf-8"))
    assert first["SECRET_KEY"] != second["SECRET_KEY"]


def test_removal_manifest_names_real_template_paths(post_gen_hook: ModuleType) -> None:
    # A renamed file would otherwise silently stay in projects that disabled it.
    for removal in post_gen_hook.REMOVAL_MANIFEST:
        for path in removal.paths:
            template_path = path.format(package_name="{{cookiecutter.package_name}}")
            assert (PROJECT_TEMPLATE_DIR / template_path).exists(), template_path


# --- tools on the baked project ---------------------------------------------------


def test_ruff_check(project: Path) -> None:
    run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=project)


def test_ruff_format(project: Path) -> None:
    run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."], cwd=project)


@pytest.mark.parametrize("tool", ["check", "format --check"])
def test_the_longest_allowed_package_name_still_lints(bake_once: Bake, tool: str) -> None:
    # Lines that contain the package name must fit ruff's line length at the hook's limit.
    name = "inventory_management_platform_backend_xy"
    assert len(name) == load_hook("pre_gen_project").MAX_PACKAGE_NAME_LENGTH
    project = bake_once(project_slug=name.replace("_", "-"), package_name=name)
    run([sys.executable, "-m", "ruff", *tool.split(), "--no-cache", "."], cwd=project)


def test_mypy_is_configured_strict_over_src_and_tests(project: Path) -> None:
    config = generated_pyproject(project)["tool"]["mypy"]
    assert config.get("strict") is True
    assert {"src", "tests"} <= set(config.get("files", []))


def test_mypy(project: Path, mypy_cache_dir: Path) -> None:
    # No paths given: mypy checks what the generated config's `files` lists.
    command = [sys.executable, "-m", "mypy", "--cache-dir", str(mypy_cache_dir)]
    run(command, cwd=project)


def test_compileall(project: Path, tmp_path: Path) -> None:
    # Bytecode goes elsewhere so the baked tree stays as generated.
    env = os.environ | {"PYTHONPYCACHEPREFIX": str(tmp_path)}
    run([sys.executable, "-m", "compileall", "-q", "."], cwd=project, env=env)


def test_compose_files_are_valid(project: Path) -> None:
    if not Path(DOCKER_COMPOSE).exists() and shutil.which("docker-compose") is None:
        pytest.fail(
            "docker-compose is not installed, so the compose files cannot be checked: "
            "install it (e.g. `apt-get install docker-compose`) and run again"
        )
    executable = DOCKER_COMPOSE if Path(DOCKER_COMPOSE).exists() else "docker-compose"
    compose_files = sorted(project.glob("compose*.yaml"))
    assert compose_files
    for compose_file in compose_files:
        run([executable, "-f", compose_file.name, "config", "-q"], cwd=project)


def test_compose_services_publish_ports_on_loopback_only(project: Path) -> None:
    # The test PostgreSQL accepts passwordless (trust) connections: safe only while
    # nothing outside this machine can reach the port.
    exposed = []
    for compose_file in sorted(project.glob("compose*.yaml")):
        services = (yaml.safe_load(compose_file.read_text()) or {}).get("services") or {}
        for name, service in services.items():
            exposed += [
                f"{compose_file.name}: {name} publishes {port}"
                for port in service.get("ports", [])
                if not str(port).startswith("127.0.0.1:")
            ]
    assert not exposed, exposed


# --- the template's environment can check what it bakes ----------------------------


def test_template_env_has_every_generated_dependency(project: Path) -> None:
    """mypy resolves the baked imports from this environment: it must hold a
    version of every dependency that the generated project accepts."""
    problems = []
    for requirement in generated_requirements(project):
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{requirement} is not installed")
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement} does not accept the installed {version}")
    assert not problems, "add to the template's dev group:\n" + "\n".join(problems)


def test_every_dependency_module_is_a_reserved_package_name(
    project: Path, pre_gen_hook: ModuleType
) -> None:
    modules = top_level_modules(requirement_closure(generated_requirements(project)))
    choosable = {name for name in modules if re.fullmatch(r"[a-z][a-z0-9_]*", name)}
    unreserved = sorted(name for name in choosable if not pre_gen_hook.is_taken_module_name(name))
    assert not unreserved, f"add to RESERVED_MODULE_NAMES in the pre-gen hook: {unreserved}"


# --- habits: license, lock file, pre-commit, cruft state ---------------------------

SPDX_FOR_LICENSE = {
    "MIT": "MIT",
    "Apache-2.0": "Apache-2.0",
    "BSD-3-Clause": "BSD-3-Clause",
    "proprietary": "LicenseRef-Proprietary",
}
LICENSE_FIRST_WORDS = {
    "MIT": "MIT License",
    "Apache-2.0": "Apache License",
    "BSD-3-Clause": "BSD 3-Clause License",
    "proprietary": "Copyright (c)",
}


def test_license_file_and_pyproject_agree(project: Path, combination: Combination) -> None:
    chosen = combination.license or default_answers()["license"]
    license_text = (project / "LICENSE").read_text(encoding="utf-8")
    project_table = generated_pyproject(project)["project"]

    assert project_table["license"] == SPDX_FOR_LICENSE[chosen]
    assert project_table["license-files"] == ["LICENSE"]
    assert license_text.strip().startswith(LICENSE_FIRST_WORDS[chosen])
    assert "<year>" not in license_text
    assert "<copyright holder>" not in license_text
    if chosen != "Apache-2.0":  # its copyright line sits in the appendix's example
        assert default_answers()["author_name"] in license_text
    # The other texts were data for the hook, not part of the project.
    assert not (project / ".licenses").exists()


def test_gitignore_keeps_the_lock_file(project: Path, tmp_path: Path) -> None:
    shutil.copy(project / ".gitignore", tmp_path / ".gitignore")
    run(["git", "init", "--quiet"], cwd=tmp_path)

    def ignored(path: str) -> bool:
        command = ["git", "check-ignore", "--quiet", "--no-index", path]
        return subprocess.run(command, cwd=tmp_path, check=False).returncode == 0

    assert not ignored("uv.lock")
    assert not ignored(".test_durations")
    assert ignored(".env")  # the same check does see what the file ignores


def test_readme_says_to_commit_the_lock_file(project: Path) -> None:
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "git add uv.lock" in readme


def test_pre_commit_runs_the_project_tools_locally(project: Path) -> None:
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}

    # Local hooks only: nothing to clone or download, the versions uv.lock pins.
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    assert set(hooks) == {"ruff-check", "ruff-format", "mypy"}
    for hook in hooks.values():
        assert hook["language"] == "system"
        assert hook["entry"].startswith("uv run ")
    assert hooks["ruff-check"]["entry"].startswith("uv run ruff check")
    assert hooks["ruff-format"]["entry"].startswith("uv run ruff format")
    assert hooks["mypy"]["pass_filenames"] is False
    dev = [
        Requirement(item).name for item in generated_pyproject(project)["dependency-groups"]["dev"]
    ]
    assert "pre-commit" in dev


def test_cruft_state_records_the_template_and_answers(
    project: Path, combination: Combination
) -> None:
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    head = subprocess.run(
        ["git", "-C", str(TEMPLATE_DIR), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert state["template"] == str(TEMPLATE_DIR)
    assert state["commit"] == head
    assert state["directory"] is None
    answers = state["context"]["cookiecutter"]
    assert {key: answers[key] for key in combination.answers} == combination.answers
    assert answers["_template"] == state["template"]
    assert answers["_commit"] == head
    # Paths of the machine that baked it would only confuse the next one.
    assert "_output_dir" not in answers
    assert "_repo_dir" not in answers
    # cruft update must not replay the secret or fight over its own state file.
    assert set(generated_pyproject(project)["tool"]["cruft"]["skip"]) == {".env", ".cruft.json"}


# --- CI: the committed lock, the split suite ---------------------------------------

# The committed lock, exactly; a lowest-direct job (UV_RESOLUTION) resolves anew instead.
LOCKED_INSTALL = (
    'if [ -f uv.lock ] && [ "${UV_RESOLUTION:-highest}" = highest ]; '
    "then uv sync --locked; else uv sync; fi"
)


def ci_config(project: Path) -> tuple[str, dict[str, Any]] | None:
    for path in CI_FILES:
        if (project / path).exists():
            text = (project / path).read_text(encoding="utf-8")
            return path, yaml.safe_load(text)
    return None


def test_ci_installs_the_committed_lock(project: Path) -> None:
    found = ci_config(project)
    if found is None:
        assert not any((project / path).exists() for path in CI_FILES)
        return
    path, config = found
    if path == GITLAB_FILES[0]:
        install_steps = [config["default"]["before_script"]]
    else:
        install_steps = [
            [step.get("run", "") for step in job["steps"]] for job in config["jobs"].values()
        ]
    for steps in install_steps:
        assert LOCKED_INSTALL in steps
        assert "uv sync" not in steps  # no unconditional install beside it


def split_test_command(config: dict[str, Any], path: str) -> str:
    if path == GITLAB_FILES[0]:
        return " ".join(config["test"]["script"])
    return " ".join(step.get("run", "") for step in config["jobs"]["test"]["steps"])


@pytest.mark.parametrize("ci", ["github", "gitlab"])
@pytest.mark.parametrize("jobs", ["1", "3"])
def test_ci_splits_the_suite_into_jobs(bake_once: Bake, ci: str, jobs: str) -> None:
    project = bake_once(ci=ci, ci_test_jobs=jobs)
    found = ci_config(project)
    assert found is not None
    path, config = found
    command = split_test_command(config, path)

    assert "-n auto" in command
    assert "--splitting-algorithm least_duration" in command
    if ci == "github":
        test_job = config["jobs"]["test"]
        assert test_job["strategy"]["matrix"]["group"] == list(range(1, int(jobs) + 1))
        # --splits is the number of groups: job-total also counts the resolution matrix.
        assert f"--splits {jobs} --group ${{{{ matrix.group }}}}" in command
        # Every job starts its own services.
        assert "services" in test_job
    else:
        assert config["test"].get("parallel") == (int(jobs) if jobs != "1" else None)
        assert '--splits "${CI_NODE_TOTAL:-1}" --group "${CI_NODE_INDEX:-1}"' in command
        assert "services" in config["test"]
    durations = json.loads((project / ".test_durations").read_text(encoding="utf-8"))
    assert durations
    assert all(node.startswith("tests/test_") and "::" in node for node in durations)
    dev = [
        Requirement(item).name for item in generated_pyproject(project)["dependency-groups"]["dev"]
    ]
    assert "pytest-split" in dev
