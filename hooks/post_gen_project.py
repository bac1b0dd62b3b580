"""Finish the generated project: drop the files of disabled options, make secrets,
write the chosen LICENSE and record the template's origin for cruft.

Cookiecutter runs this inside the new project directory. Which files belong to
which option lives in one declarative manifest (REMOVAL_MANIFEST) instead of
if-blocks spread over the hook, so the template's tests can check it directly.

This file stays importable as plain Python: the only template expression sits
inside the string literal below.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import shutil
import subprocess
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

# The license texts ship inside the generated tree (so they are there whether
# cookiecutter or cruft renders it); the hook keeps the chosen one as LICENSE.
LICENSE_TEXTS_DIR = ".licenses"
LICENSE_FILE = "LICENSE"
# Answer -> the text file in LICENSE_TEXTS_DIR; "proprietary" gets PROPRIETARY_NOTICE.
LICENSE_TEXT_FILES: Mapping[str, str] = {
    "MIT": "MIT.txt",
    "Apache-2.0": "Apache-2.0.txt",
    "BSD-3-Clause": "BSD-3-Clause.txt",
}
PROPRIETARY_NOTICE = "Copyright (c) <year> <copyright holder>. All rights reserved.\n"

# cruft's state file: where the project came from and the answers it was made with.
CRUFT_FILE = ".cruft.json"
# Context keys that describe one machine's run, not the project.
MACHINE_SPECIFIC_KEYS = frozenset({"_output_dir", "_repo_dir"})
# cookiecutter's built-in abbreviations: cruft clones with git, which knows none.
TEMPLATE_ABBREVIATIONS: Mapping[str, str] = {
    "gh:": "https://github.com/{}.git",
    "gl:": "https://gitlab.com/{}.git",
    "bb:": "https://bitbucket.org/{}",
}


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


def current_year() -> int:
    return datetime.datetime.now(tz=datetime.UTC).year


def license_text(template: str, year: int, holder: str) -> str:
    return template.replace("<year>", str(year)).replace("<copyright holder>", holder)


def write_license(project_dir: Path, choice: str, holder: str, year: int) -> None:
    """Keep the chosen license text as LICENSE and drop the others."""
    texts_dir = project_dir / LICENSE_TEXTS_DIR
    if choice == "proprietary":
        template = PROPRIETARY_NOTICE
    else:
        template = (texts_dir / LICENSE_TEXT_FILES[choice]).read_text(encoding="utf-8")
    (project_dir / LICENSE_FILE).write_text(license_text(template, year, holder), encoding="utf-8")
    remove_path(texts_dir)


def invocation_dir() -> Path:
    """Where cookiecutter was started: relative template paths are relative to it. The
    hook itself runs inside the new project; the shell's PWD still names the start."""
    return Path(os.environ.get("PWD") or Path.cwd())


def expand_template_source(template: str) -> str:
    """A URL or absolute path git can clone: what cruft needs to find the template again."""
    for prefix, url in TEMPLATE_ABBREVIATIONS.items():
        if template.startswith(prefix):
            return url.format(template.removeprefix(prefix))
    if "://" in template or "@" in template:
        return template
    return str((invocation_dir() / Path(template).expanduser()).resolve())


def template_commit(answers: Mapping[str, object]) -> str | None:
    """The template commit this bake came from: cruft passes it in `_commit`;
    plain cookiecutter only gives the checkout it rendered (`_repo_dir`)."""
    if answers.get("_commit"):
        return str(answers["_commit"])
    repo_dir = answers.get("_repo_dir")
    if not repo_dir:
        return None
    checkout = (invocation_dir() / str(repo_dir)).resolve()
    result = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--show-toplevel", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    toplevel, commit = result.stdout.split()
    # A template folder inside some other repository is not what cruft can clone.
    return commit if Path(toplevel).resolve() == checkout else None


def cruft_state(answers: Mapping[str, object], commit: str) -> dict[str, object]:
    """The content of .cruft.json in the shape `cruft create` writes."""
    template = expand_template_source(str(answers["_template"]))
    context = {k: v for k, v in answers.items() if k not in MACHINE_SPECIFIC_KEYS}
    context |= {"_template": template, "_commit": commit}
    return {
        "template": template,
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
    }


def write_cruft_state(project_dir: Path, answers: Mapping[str, object]) -> bool:
    """Write .cruft.json when the template's commit is known; False when it is not
    (the template was not a git checkout: `cruft link` can connect it later)."""
    commit = template_commit(answers)
    if commit is None or not answers.get("_template"):
        return False
    text = json.dumps(cruft_state(answers, commit), ensure_ascii=False, indent=2) + "\n"
    (project_dir / CRUFT_FILE).write_text(text, encoding="utf-8")
    return True


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
    write_license(project_dir, answers["license"], answers["author_name"], current_year())
    if not write_cruft_state(project_dir, answers):
        print(f"No {CRUFT_FILE}: the template is not a git checkout (see `cruft link`).")
    has_test_services = (project_dir / TEST_SERVICES_FILE).exists()
    print(format_next_steps(answers["project_slug"], has_test_services))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(CONTEXT_JSON), Path.cwd()))
