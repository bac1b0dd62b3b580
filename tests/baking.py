"""Helpers for baking the template with cookiecutter's Python API (fixtures live in conftest)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config
from cookiecutter.utils import create_env_with_context

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
HOOKS_DIR = TEMPLATE_DIR / "hooks"
PROJECT_TEMPLATE_DIR = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"

Bake = Callable[..., Path]

# What a generated suite keeps on purpose between runs: the migrated template, empty spare
# copies of it (PostgreSQL), and the SQLite variant's lock file.
KEPT_BETWEEN_RUNS = re.compile(
    r"\w+_test(_template_[0-9a-f]{12}(\.db)?|_spare_[0-9a-f]{12}_[0-9a-f]{8}|\.lock)"
)


class Combination(NamedTuple):
    """One set of option answers; `project_name` and `license` keep their defaults when empty."""

    database: str
    use_redis: str
    ci: str
    python_version: str
    project_name: str = ""
    license: str = ""

    @property
    def id(self) -> str:
        redis = "redis" if self.use_redis == "y" else "noredis"
        license_part = f"-{self.license}" if self.license else ""
        return f"{self.database}-{redis}-{self.ci}-py{self.python_version}{license_part}"

    @property
    def answers(self) -> dict[str, str]:
        return {key: value for key, value in self._asdict().items() if value}

    @property
    def has_test_services(self) -> bool:
        return self.database == "postgresql" or self.use_redis == "y"


def load_hook(name: str) -> ModuleType:
    """Import a hook file as-is (unrendered); its template expression is a string."""
    spec = importlib.util.spec_from_file_location(f"hook_{name}", HOOKS_DIR / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def default_answers() -> dict[str, str]:
    """The answers `cookiecutter --no-input` would give, rendered like cookiecutter does."""
    context = generate_context(context_file=str(TEMPLATE_DIR / "cookiecutter.json"))
    answers = prompt_for_config(context, no_input=True)
    return {key: value for key, value in answers.items() if isinstance(value, str)}


def bake_project(output_dir: Path, config_file: Path, answers: Mapping[str, str]) -> Path:
    project_dir = cookiecutter(
        str(TEMPLATE_DIR),
        no_input=True,
        output_dir=str(output_dir),
        config_file=str(config_file),
        extra_context=dict(answers),
    )
    return Path(project_dir)


def bake_project_from_replay(
    output_dir: Path, config_file: Path, answers: Mapping[str, str]
) -> Path:
    """Bake from a replay file: cookiecutter then skips its own choice validation,
    exactly as it does for a user who edits a replay file by hand."""
    replay_file = output_dir.parent / f"{output_dir.name}-replay.json"
    context = {"cookiecutter": default_answers() | dict(answers)}
    replay_file.write_text(json.dumps(context), encoding="utf-8")
    project_dir = cookiecutter(
        str(TEMPLATE_DIR),
        replay=str(replay_file),
        output_dir=str(output_dir),
        config_file=str(config_file),
    )
    return Path(project_dir)


def render_hook(name: str, answers: Mapping[str, str]) -> str:
    """Render a hook file exactly as cookiecutter does before running it."""
    context = {"cookiecutter": dict(answers)}
    source = (HOOKS_DIR / f"{name}.py").read_text(encoding="utf-8")
    rendered: str = create_env_with_context(context).from_string(source).render(**context)
    return rendered
