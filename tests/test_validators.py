"""The baked configuration files pass their ecosystems' own validators (fast layer).

check-jsonschema with its vendored schemas (workflows, Dependabot, GitLab CI, compose),
zizmor on the GitHub files, validate-pyproject, hadolint. All run offline: every
validator is started with proxies that lead nowhere, so a check that reached for the
network would fail here instead of passing on a connected machine only. The mutation
tests at the end prove each check fails on a broken bake.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from baking import Bake, Combination
from test_generation import COMBINATIONS

SUBPROCESS_TIMEOUT_SECONDS = 120
# Installed beside the interpreter by the template's dev group.
BIN_DIR = Path(sys.executable).parent
# A closed port on this machine: any download attempt fails at once.
NO_NETWORK = "http://127.0.0.1:9"


class SchemaCheck(NamedTuple):
    pattern: str
    schema: str


SCHEMA_CHECKS = (
    SchemaCheck(".github/workflows/*.yml", "vendor.github-workflows"),
    SchemaCheck(".github/dependabot.yml", "vendor.dependabot"),
    SchemaCheck(".gitlab-ci.yml", "vendor.gitlab-ci"),
    SchemaCheck("compose*.yaml", "vendor.compose-spec"),
)
# A tag naming one release (a variant suffix such as -alpine may follow), or a digest.
# A release number, optionally "v"-prefixed (edoburu/pgbouncer:v1.25.1-p0), then a variant.
TAGGED_IMAGE = re.compile(r"^(?P<name>[\w./-]+):v?(?P<version>[\d.]+)(-[\w.-]+)?$")
DIGEST_IMAGE = re.compile(r"^[\w./-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}$")
# How many version parts name one release: PostgreSQL's are major.minor since 10.
RELEASE_PARTS = {"postgres": 2}
# Commands that would print the job's variables (credentials included) to its log.
PRINTS_ENVIRONMENT = re.compile(r"\b(printenv|env\s*$|set\s+-[a-z]*x)|echo\s+.*\$", re.MULTILINE)


@pytest.fixture(params=COMBINATIONS, ids=[combination.id for combination in COMBINATIONS])
def combination(request: pytest.FixtureRequest) -> Combination:
    param: Combination = request.param
    return param


@pytest.fixture
def project(combination: Combination, bake_once: Bake) -> Path:
    return bake_once(**combination.answers)


@pytest.fixture
def default_copy(bake_once: Bake, tmp_path: Path) -> Path:
    """A private copy of the default bake, for a test to break."""
    return Path(shutil.copytree(bake_once(), tmp_path / "mutated"))


# --- the checks (each returns what is wrong; empty means valid) ----------------------


def offline_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if "proxy" not in key}
    proxies = {"HTTP_PROXY": NO_NETWORK, "HTTPS_PROXY": NO_NETWORK, "ALL_PROXY": NO_NETWORK}
    return env | proxies | {key.lower(): value for key, value in proxies.items()}


def validator(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        pytest.fail(f"{name} is not installed beside {sys.executable}: run `uv sync`")
    return str(path)


def run_validator(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
        check=False,
    )


def failure(result: subprocess.CompletedProcess[str]) -> str:
    """'' when the validator passed, else its command and output."""
    if result.returncode == 0:
        return ""
    return f"`{' '.join(result.args)}` exit {result.returncode}:\n{result.stdout}{result.stderr}"


def files_for(project: Path, check: SchemaCheck) -> list[str]:
    return sorted(str(path.relative_to(project)) for path in project.glob(check.pattern))


def schema_failures(project: Path) -> list[str]:
    failures = []
    for check in SCHEMA_CHECKS:
        if files := files_for(project, check):
            command = [validator("check-jsonschema"), "--no-cache", "--builtin-schema"]
            failures.append(failure(run_validator([*command, check.schema, *files], project)))
    return [message for message in failures if message]


def zizmor_findings(project: Path) -> list[dict[str, Any]]:
    """Every finding of the default persona, at every severity and confidence."""
    command = [validator("zizmor"), "--offline", "--no-progress", "--format=json", ".github"]
    result = run_validator(command, project)
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    # zizmor exits non-zero exactly when it reports a finding; anything else is a crash.
    assert bool(findings) is (result.returncode != 0), failure(result)
    return findings


def pyproject_failure(project: Path) -> str:
    command = [validator("validate-pyproject"), "pyproject.toml"]
    return failure(run_validator(command, project))


def hadolint_failure(project: Path) -> str:
    # The default failure threshold is `info`: any finding at any level fails.
    return failure(run_validator([validator("hadolint"), "--no-color", "Dockerfile"], project))


def image_references(project: Path) -> dict[str, list[str]]:
    """Every container image the project pulls, by file (locally built ones left out)."""
    images: dict[str, list[str]] = {}
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, re.MULTILINE | re.IGNORECASE)
    images["Dockerfile"] = [
        image
        for image in re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE | re.IGNORECASE)
        if image not in stages
    ]
    for compose_file in sorted(project.glob("compose*.yaml")):
        services = yaml.safe_load(compose_file.read_text(encoding="utf-8"))["services"]
        images[compose_file.name] = [
            service["image"]
            for service in services.values()
            if "image" in service and "build" not in service
        ]
    workflows = sorted(project.glob(".github/workflows/*.yml"))
    for workflow in workflows:
        jobs = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]
        images[str(workflow.relative_to(project))] = [
            service["image"]
            for job in jobs.values()
            for service in job.get("services", {}).values()
        ]
    if (gitlab := project / ".gitlab-ci.yml").exists():
        pipeline = yaml.safe_load(gitlab.read_text(encoding="utf-8"))
        jobs = [pipeline.get("default", {})] + [
            value for value in pipeline.values() if isinstance(value, dict)
        ]
        found = [job["image"] for job in jobs if "image" in job]
        found += [service["name"] for job in jobs for service in job.get("services", [])]
        images[".gitlab-ci.yml"] = sorted(set(found))
    return images


def is_exact_release(image: str) -> bool:
    if DIGEST_IMAGE.fullmatch(image):
        return True
    tagged = TAGGED_IMAGE.fullmatch(image)
    if tagged is None:
        return False
    parts = tagged["version"].split(".")
    return all(parts) and len(parts) >= RELEASE_PARTS.get(tagged["name"], 3)


def unpinned_images(project: Path) -> list[str]:
    return [
        f"{path}: {image}"
        for path, images in image_references(project).items()
        for image in images
        if not is_exact_release(image)
    ]


def ci_scripts(project: Path) -> str:
    texts = [path.read_text(encoding="utf-8") for path in project.glob(".github/workflows/*.yml")]
    if (gitlab := project / ".gitlab-ci.yml").exists():
        texts.append(gitlab.read_text(encoding="utf-8"))
    return "\n".join(texts)


# --- every combination passes ---------------------------------------------------------


def test_config_files_match_their_schemas(project: Path, combination: Combination) -> None:
    validated = {path for check in SCHEMA_CHECKS for path in files_for(project, check)}
    expected = {"compose.yaml"}
    expected |= {"compose.test.yaml"} if combination.has_test_services else set()
    expected |= (
        {".github/workflows/ci.yml", ".github/dependabot.yml"}
        if combination.ci == "github"
        else set()
    )
    expected |= {".gitlab-ci.yml"} if combination.ci == "gitlab" else set()
    assert validated == expected
    assert schema_failures(project) == []


def test_github_files_have_no_zizmor_findings(project: Path, combination: Combination) -> None:
    if combination.ci != "github":
        assert not (project / ".github").exists()
        return
    assert zizmor_findings(project) == []


def test_pyproject_is_valid(project: Path) -> None:
    assert pyproject_failure(project) == ""


def test_dockerfile_passes_hadolint(project: Path) -> None:
    assert hadolint_failure(project) == ""


def test_every_pulled_image_is_an_exact_release(project: Path) -> None:
    references = image_references(project)
    assert references["Dockerfile"], "no base image found in the Dockerfile"
    assert unpinned_images(project) == []


def test_ci_never_prints_its_environment(project: Path) -> None:
    assert not PRINTS_ENVIRONMENT.search(ci_scripts(project))


def test_ci_tools_are_exact_releases(project: Path) -> None:
    # Installed by pip in a job: an exact version, like the images.
    installs = re.findall(r"pip install .*", ci_scripts(project))
    assert all(re.search(r"==\d+\.\d+\.\d+$", line) for line in installs), installs


# --- each check fails on a broken bake ------------------------------------------------


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}: update this mutation"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_unpinned_action_is_a_zizmor_finding(default_copy: Path) -> None:
    assert zizmor_findings(default_copy) == []
    workflow = default_copy / ".github/workflows/ci.yml"
    pinned = re.search(r"actions/checkout@[0-9a-f]{40} # (v[\d.]+)", workflow.read_text())
    assert pinned, "checkout is not pinned to a commit hash"
    replace_in(workflow, pinned.group(0), f"actions/checkout@{pinned.group(1)}")
    assert "unpinned-uses" in {finding["ident"] for finding in zizmor_findings(default_copy)}


def test_persisted_checkout_credentials_are_a_zizmor_finding(default_copy: Path) -> None:
    # Without `persist-credentials: false`, checkout leaves the token in .git/config.
    replace_in(
        default_copy / ".github/workflows/ci.yml", "persist-credentials: false", "fetch-depth: 1"
    )
    assert "artipacked" in {finding["ident"] for finding in zizmor_findings(default_copy)}


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        (".github/workflows/ci.yml", "jobs:", "jobs:\n  broken: {steps: []}"),
        (".github/dependabot.yml", "interval: weekly", "interval: fortnightly"),
        ("compose.yaml", "services:", "service:"),
        ("compose.test.yaml", "services:", "services:\n  broken: {not_a_key: 1}\n"),
    ],
    ids=["workflow", "dependabot", "compose", "compose-test"],
)
def test_a_schema_violation_fails_the_schema_check(
    default_copy: Path, path: str, old: str, new: str
) -> None:
    assert schema_failures(default_copy) == []
    replace_in(default_copy / path, old, new)
    failures = schema_failures(default_copy)
    assert len(failures) == 1
    assert path in failures[0]


def test_a_gitlab_schema_violation_fails_the_schema_check(bake_once: Bake, tmp_path: Path) -> None:
    project = Path(shutil.copytree(bake_once(ci="gitlab"), tmp_path / "mutated"))
    assert schema_failures(project) == []
    replace_in(project / ".gitlab-ci.yml", "  script:", "  scripts:")
    assert any(".gitlab-ci.yml" in message for message in schema_failures(project))


def test_an_invalid_pyproject_fails(default_copy: Path) -> None:
    replace_in(
        default_copy / "pyproject.toml", 'requires-python = ">=3.11"', 'requires-python = "3.11+"'
    )
    assert "requires-python" in pyproject_failure(default_copy)


def test_an_unpinned_pip_install_fails_hadolint(default_copy: Path) -> None:
    dockerfile = default_copy / "Dockerfile"
    pinned = re.search(r"uv==[\d.]+", dockerfile.read_text(encoding="utf-8"))
    assert pinned
    replace_in(dockerfile, pinned.group(0), "uv")
    assert "DL3013" in hadolint_failure(default_copy)


def test_a_floating_image_tag_is_found(default_copy: Path) -> None:
    compose = default_copy / "compose.test.yaml"
    pinned = re.search(r"image: (postgres):\S+", compose.read_text(encoding="utf-8"))
    assert pinned
    replace_in(compose, pinned.group(0), "image: postgres:17-alpine")
    assert unpinned_images(default_copy) == ["compose.test.yaml: postgres:17-alpine"]


@pytest.mark.parametrize(
    ("image", "exact"),
    [
        ("python:3.12.14-slim", True),
        ("python:3.12-slim", False),
        ("postgres:17.11-alpine", True),
        ("postgres:17-alpine", False),
        ("redis:7.4.11-alpine", True),
        ("redis:alpine", False),
        ("redis", False),
        (f"redis:7-alpine@sha256:{'a' * 64}", True),
        ("edoburu/pgbouncer:v1.25.1-p0", True),
        ("edoburu/pgbouncer:v1.25", False),
        ("edoburu/pgbouncer:latest", False),
    ],
)
def test_exact_release_rule(image: str, exact: bool) -> None:
    assert is_exact_release(image) is exact


def test_printing_the_environment_is_found(default_copy: Path) -> None:
    assert not PRINTS_ENVIRONMENT.search(ci_scripts(default_copy))
    replace_in(default_copy / ".github/workflows/ci.yml", "- run: uv run mypy", "- run: printenv")
    assert PRINTS_ENVIRONMENT.search(ci_scripts(default_copy))
