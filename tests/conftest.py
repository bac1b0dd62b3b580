"""Fixtures for the template's own tests: bake the template with cookiecutter's API."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from baking import Bake, bake_project, bake_project_from_replay, load_hook

# The legacy project the adoption test moves onto the patterns has tests (and a conftest)
# of its own, written the old way on purpose: they run only inside that project.
collect_ignore = ["adoption"]


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user config of our own, so bakes neither read ~/.cookiecutterrc nor write
    replay files into the home directory."""
    home = tmp_path_factory.mktemp("cookiecutter-home")
    config = home / "config.yaml"
    # JSON strings are valid YAML scalars, whatever the path contains.
    settings = {
        "cookiecutters_dir": str(home / "cookiecutters"),
        "replay_dir": str(home / "replay"),
    }
    config.write_text(
        "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items()),
        encoding="utf-8",
    )
    return config


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "output"
    directory.mkdir()
    return directory


@pytest.fixture
def bake(output_dir: Path, cookiecutter_config: Path) -> Bake:
    """bake(**answers) -> project dir, baked into this test's `output_dir`."""

    def _bake(**answers: str) -> Path:
        return bake_project(output_dir, cookiecutter_config, answers)

    return _bake


@pytest.fixture
def bake_from_replay(output_dir: Path, cookiecutter_config: Path) -> Bake:
    """Like `bake`, but the answers bypass cookiecutter's own choice checks."""

    def _bake(**answers: str) -> Path:
        return bake_project_from_replay(output_dir, cookiecutter_config, answers)

    return _bake


@pytest.fixture(scope="session")
def bake_once(tmp_path_factory: pytest.TempPathFactory, cookiecutter_config: Path) -> Bake:
    """bake_once(**answers): bake each distinct set of answers once per session
    (per xdist worker), so every check on a combination shares one bake."""
    baked: dict[tuple[tuple[str, str], ...], Path] = {}

    def _bake_once(**answers: str) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in baked:
            baked[key] = bake_project(
                tmp_path_factory.mktemp("baked"), cookiecutter_config, answers
            )
        return baked[key]

    return _bake_once


@pytest.fixture(scope="session")
def pre_gen_hook() -> ModuleType:
    return load_hook("pre_gen_project")


@pytest.fixture(scope="session")
def post_gen_hook() -> ModuleType:
    return load_hook("post_gen_project")
