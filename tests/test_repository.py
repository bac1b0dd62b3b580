"""The template repository's own housekeeping files say what they must (fast layer)."""

from __future__ import annotations

import re
import tomllib

import yaml
from baking import TEMPLATE_DIR
from packaging.requirements import Requirement


def test_license_is_mit() -> None:
    text = (TEMPLATE_DIR / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "<year>" not in text
    assert "<copyright holder>" not in text


def test_changelog_has_dated_entries() -> None:
    text = (TEMPLATE_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    dates = re.findall(r"^## (\d{4}-\d{2}-\d{2})", text, re.MULTILINE)
    assert dates, "no `## YYYY-MM-DD` section"
    assert dates == sorted(dates, reverse=True), "newest first"


def test_contributing_says_how_to_run_the_layers_and_add_an_option() -> None:
    text = (TEMPLATE_DIR / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for command in ("uv run pytest", 'uv run pytest -m "not full"', "uv run pytest -m full"):
        assert command in text, command
    assert "## Add an option" in text
    for place in ("cookiecutter.json", "CHOICES", "REMOVAL_MANIFEST", "all_combinations"):
        assert place in text, place


def test_editorconfig_is_the_root() -> None:
    lines = (TEMPLATE_DIR / ".editorconfig").read_text(encoding="utf-8").splitlines()
    # Before any section: editors stop looking in parent directories.
    assert "root = true" in lines[: lines.index("[*]")]


def test_pre_commit_runs_local_tools_on_the_template_code_only() -> None:
    config = yaml.safe_load((TEMPLATE_DIR / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]

    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    assert {hook["id"] for hook in hooks} == {"ruff-check", "ruff-format", "mypy"}
    assert all(hook["language"] == "system" for hook in hooks)
    assert all(hook["entry"].startswith("uv run ") for hook in hooks)
    # The Jinja-templated project is not Python (nor TOML) until rendered.
    assert re.match(config["exclude"], "{{cookiecutter.project_slug}}/tests/conftest.py")
    assert not re.match(config["exclude"], "tests/conftest.py")


def test_update_and_split_tools_are_dev_dependencies_with_floors() -> None:
    pyproject = tomllib.loads((TEMPLATE_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    dev = {
        Requirement(item).name: Requirement(item) for item in pyproject["dependency-groups"]["dev"]
    }
    for name in ("cruft", "pre-commit", "pytest-split"):
        # A floor; no cap without a known break (the rule for every declared range).
        operators = {spec.operator for spec in dev[name].specifier}
        assert operators == {">="}, f"{name} needs a floor and no reasonless cap"
