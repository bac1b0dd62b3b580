"""Finish the generated project: drop the files of disabled options, make secrets.

Cookiecutter runs this inside the new project directory. Which files belong to
which option lives in one declarative manifest (REMOVAL_MANIFEST) instead of
if-blocks spread over the hook, so the template's tests can check it directly.

This file stays importable as plain Python: the only template expression sits
inside the string literal below.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Rendered by cookiecutter into the answers as JSON. No answer can end this raw
# string early: JSON escapes every double quote inside a value, and its own
# quotes never come three in a row.
CONTEXT_JSON = r"""{{ cookiecutter | jsonify }}"""

SECRET_KEY_LINE = re.compile(r"^[ \t]*SECRET_KEY[ \t]*=.*$", re.MULTILINE)
# Services listed in this file are what `make up` starts for the tests.
TEST_SERVICES_FILE = "compose.test.yaml"


@dataclass(frozen=True)
class Removal:
    """Paths (relative to the project, may use {package_name}) to delete when
    every `when` answer matches and no `unless` answer does."""

    paths: tuple[str, ...]
    when: Mapping[str, str] = field(default_factory=dict)
    unless: Mapping[str, str] = field(default_factory=dict)

    def applies_to(self, answers: Mapping[str, str]) -> bool:
        every_when_holds = all(answers.get(k) == v for k, v in self.when.items())
        any_unless_holds = any(answers.get(k) == v for k, v in self.unless.items())
        return every_when_holds and not any_unless_holds


REMOVAL_MANIFEST: tuple[Removal, ...] = (
    Removal(
        when={"use_redis": "n"},
        paths=("src/{package_name}/rate_limit.py", "tests/test_rate_limit.py"),
    ),
    Removal(unless={"ci": "github"}, paths=(".github",)),
    Removal(unless={"ci": "gitlab"}, paths=(".gitlab-ci.yml",)),
    # No database server and no Redis: the tests need no services at all.
    Removal(when={"database": "sqlite", "use_redis": "n"}, paths=(TEST_SERVICES_FILE,)),
)


# Files named `name.<database>.ext` are whole per-database variants of `name.ext`, so a
# reader of the template sees plain Python instead of if-blocks; one of them is kept.
DATABASE_VARIANTS = ("postgresql", "sqlite")


def paths_to_remove(answers: Mapping[str, str]) -> list[str]:
    return [
        path.format(package_name=answers["package_name"])
        for removal in REMOVAL_MANIFEST
        if removal.applies_to(answers)
        for path in removal.paths
    ]


def remove_path(path: Path) -> None:
    """Delete a file or a directory tree; a path already gone is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def remove_disabled_option_files(project_dir: Path, answers: Mapping[str, str]) -> None:
    for relative_path in paths_to_remove(answers):
        remove_path(project_dir / relative_path)


def keep_database_variant(project_dir: Path, database: str) -> None:
    for path in sorted(project_dir.rglob("*.py")):
        stem, dot, rest = path.name.partition(".")
        variant, _, extension = rest.partition(".")
        if not dot or variant not in DATABASE_VARIANTS or not extension:
            continue
        if variant == database:
            path.rename(path.with_name(f"{stem}.{extension}"))
        else:
            path.unlink()


def new_secret_key() -> str:
    # 48 random bytes -> 64 URL-safe characters: no quoting needed in .env files.
    return secrets.token_urlsafe(48)


def render_env(example_text: str, secret_key: str) -> str:
    """Copy .env.example with a real SECRET_KEY; add the line if the example lacks it."""
    secret_line = f"SECRET_KEY={secret_key}"
    if SECRET_KEY_LINE.search(example_text):
        # A function replacement keeps any backslash in the key literal.
        return SECRET_KEY_LINE.sub(lambda _: secret_line, example_text, count=1)
    separator = "" if not example_text or example_text.endswith("\n") else "\n"
    return f"{example_text}{separator}{secret_line}\n"


def write_env_file(project_dir: Path, secret_key: str) -> Path:
    example = project_dir / ".env.example"
    example_text = example.read_text(encoding="utf-8") if example.exists() else ""
    env_file = project_dir / ".env"
    env_file.write_text(render_env(example_text, secret_key), encoding="utf-8")
    # The file holds a secret: readable by its owner only.
    env_file.chmod(0o600)
    return env_file


def next_steps(project_slug: str, has_test_services: bool) -> list[str]:
    steps = [f"cd {project_slug}", "uv sync"]
    if has_test_services:
        steps.append(f"make up              # start the test services in {TEST_SERVICES_FILE}")
    steps += ["make test             # the whole suite, with the coverage floor"]
    steps += ["make migrate          # create and migrate the development database"]
    return steps


def format_next_steps(project_slug: str, has_test_services: bool) -> str:
    lines = [f"Created {project_slug}. A fresh SECRET_KEY is in .env. Next steps:"]
    lines += [f"    {step}" for step in next_steps(project_slug, has_test_services)]
    return "\n".join(lines)


def main(answers: Mapping[str, str], project_dir: Path) -> int:
    remove_disabled_option_files(project_dir, answers)
    keep_database_variant(project_dir, answers["database"])
    write_env_file(project_dir, new_secret_key())
    has_test_services = (project_dir / TEST_SERVICES_FILE).exists()
    print(format_next_steps(answers["project_slug"], has_test_services))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(CONTEXT_JSON), Path.cwd()))
