"""Validate the answers before cookiecutter writes anything.

Every check is a small function that returns an error message (what is wrong and
what to type instead) or None. All errors are printed together and the hook exits
with status 1: cookiecutter then raises FailedHookException and removes the
half-made project directory.

This file stays importable as plain Python: the only template expression sits
inside the string literal below, so the template's tests import these functions
directly.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Mapping

# Rendered by cookiecutter into the answers as JSON. No answer can end this raw
# string early: JSON escapes every double quote inside a value, and its own
# quotes never come three in a row.
CONTEXT_JSON = r"""{{ cookiecutter | jsonify }}"""

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PACKAGE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_PACKAGE_NAME_LENGTH = 40
# Deliberately loose: a typo guard, not RFC 5322.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

# Options whose prompts offer a fixed list; replay files and hand-written contexts
# skip those prompts, so the values are checked again here.
CHOICES: Mapping[str, tuple[str, ...]] = {
    "database": ("postgresql", "sqlite"),
    "use_redis": ("y", "n"),
    "ci": ("github", "gitlab", "none"),
    "python_version": ("3.12", "3.13", "3.11"),
    "license": ("MIT", "Apache-2.0", "BSD-3-Clause", "proprietary"),
}

# Top-level modules the generated project imports or installs (runtime and dev
# dependencies with their notable transitive ones) plus the directories of its
# layout: a package with one of these names would shadow the real module.
# "app" stays allowed: nothing in the layout or the dependencies is called that.
RESERVED_MODULE_NAMES = frozenset(
    {
        # runtime dependencies
        "aiosqlite",
        "alembic",
        "argon2",
        "asyncpg",
        "email_validator",
        "fastapi",
        "jwt",
        "pwdlib",
        "pydantic",
        "pydantic_settings",
        "redis",
        "sqlalchemy",
        "uvicorn",
        # transitive dependencies (the template's tests check this list is complete)
        "annotated_doc",
        "annotated_types",
        "anyio",
        "certifi",
        "cffi",
        "click",
        "dns",
        "dotenv",
        "faker",
        "greenlet",
        "h11",
        "httpcore",
        "httptools",
        "idna",
        "mako",
        "markupsafe",
        "opentelemetry",
        "pycparser",
        "pydantic_core",
        "sniffio",
        "starlette",
        "typing_extensions",
        "typing_inspection",
        "tzdata",  # pydantic at its floor (2.9) requires it
        "uvloop",
        "watchfiles",
        "websockets",
        "yaml",
        # dev dependencies and test tooling
        "asgi_lifespan",
        "ast_serialize",
        "coverage",
        "execnet",
        "hatchling",
        "httpx",
        "iniconfig",
        "librt",
        "mypy",
        "mypy_extensions",
        "mypyc",
        "packaging",
        "pathspec",
        "pluggy",
        "polyfactory",
        "py",
        "pygments",
        "pytest",
        "pytest_asyncio",
        "pytest_cov",
        "pytest_randomly",
        "pytest_timeout",
        "pytest_split",
        "ruff",
        "xdist",
        # pre-commit and what it brings
        "cfgv",
        "distlib",
        "filelock",
        "identify",
        "nodeenv",
        "platformdirs",
        "pre_commit",
        "python_discovery",
        "virtualenv",
        # schemathesis (the contract test) and what it brings
        "charset_normalizer",
        "graphql",
        "harfile",
        "hypothesis",
        "hypothesis_graphql",
        "jsonschema_rs",
        "markdown_it",
        "mdurl",
        "pyrate_limiter",
        "requests",
        "rich",
        "schemathesis",
        "sortedcontainers",
        "urllib3",
        "werkzeug",
        # the template tooling
        "cookiecutter",
        # the generated project's own layout
        "conftest",
        "migrations",
        "src",
        "tests",
    }
)

# sys.stdlib_module_names comes from whichever Python runs cookiecutter; the
# generated project supports 3.11+, so names that later versions dropped (and the
# "test" package, which the list leaves out) are still taken there.
STDLIB_NAMES_MISSING_FROM_NEWER_PYTHONS = frozenset(
    {
        "aifc",
        "asynchat",
        "asyncore",
        "audioop",
        "cgi",
        "cgitb",
        "chunk",
        "crypt",
        "distutils",
        "imghdr",
        "imp",
        "lib2to3",
        "mailcap",
        "msilib",
        "nis",
        "nntplib",
        "ossaudiodev",
        "pipes",
        "smtpd",
        "sndhdr",
        "spwd",
        "sunau",
        "telnetlib",
        "test",
        "uu",
        "xdrlib",
    }
)
STDLIB_MODULE_NAMES = frozenset(sys.stdlib_module_names) | STDLIB_NAMES_MISSING_FROM_NEWER_PYTHONS

FALLBACK_SLUG = "my-service"
# GitLab's `parallel` accepts 2..200; beyond 20 jobs the durations file, not the runner
# count, limits the balance of a few-thousand-test suite.
MAX_CI_TEST_JOBS = 20


def suggest_slug(value: str) -> str:
    """Turn any answer into the nearest valid slug, for the error message."""
    words = re.findall(r"[a-z0-9]+", value.lower())
    slug = "-".join(words).lstrip("0123456789-")
    return slug or FALLBACK_SLUG


def suggest_package_name(value: str) -> str:
    """Turn any answer into a valid, unreserved package name, for the error message."""
    candidate = suggest_slug(value).replace("-", "_")
    if is_taken_module_name(candidate):
        candidate = f"{candidate}_app"
    return candidate


def is_taken_module_name(name: str) -> bool:
    return keyword.iskeyword(name) or name in STDLIB_MODULE_NAMES or name in RESERVED_MODULE_NAMES


def check_project_name(value: str) -> str | None:
    if value.strip():
        return None
    return (
        "project_name is empty. Type a human-readable name instead, e.g. project_name='My Service'"
    )


def check_project_slug(value: str) -> str | None:
    if SLUG_PATTERN.match(value):
        return None
    return (
        f"project_slug {value!r} is not a valid slug: use lowercase letters and digits, "
        "start with a letter, separate words with single hyphens. "
        f"Type instead: project_slug={suggest_slug(value)}"
    )


def check_package_name_syntax(value: str) -> str | None:
    if PACKAGE_NAME_PATTERN.match(value):
        return None
    return (
        f"package_name {value!r} is not a valid package name: use lowercase letters, digits "
        "and underscores, starting with a letter. "
        f"Type instead: package_name={suggest_package_name(value)}"
    )


def check_package_name_length(value: str) -> str | None:
    # Generated lines that contain the name must stay within ruff's 100-character limit.
    if len(value) <= MAX_PACKAGE_NAME_LENGTH:
        return None
    return (
        f"package_name {value!r} is {len(value)} characters long; the limit is "
        f"{MAX_PACKAGE_NAME_LENGTH}. "
        f"Type instead: package_name={value[:MAX_PACKAGE_NAME_LENGTH].rstrip('_')}"
    )


def check_package_name_not_keyword(value: str) -> str | None:
    if not keyword.iskeyword(value):
        return None
    return (
        f"package_name {value!r} is a Python keyword and cannot be imported. "
        f"Type instead: package_name={suggest_package_name(value)}"
    )


def check_package_name_not_stdlib(value: str) -> str | None:
    if value not in STDLIB_MODULE_NAMES:
        return None
    return (
        f"package_name {value!r} is a standard-library module; your package would shadow it. "
        f"Type instead: package_name={suggest_package_name(value)}"
    )


def check_package_name_not_reserved(value: str) -> str | None:
    if value not in RESERVED_MODULE_NAMES:
        return None
    return (
        f"package_name {value!r} is a dependency or a directory of the generated project; "
        f"your package would shadow it. Type instead: package_name={suggest_package_name(value)}"
    )


def check_author_email(value: str) -> str | None:
    if EMAIL_PATTERN.match(value):
        return None
    return f"author_email {value!r} is not an email address. Type e.g. author_email=you@example.com"


def check_ci_test_jobs(value: str) -> str | None:
    if value.isdecimal() and 1 <= int(value) <= MAX_CI_TEST_JOBS:
        return None
    return (
        f"ci_test_jobs {value!r} is not a whole number from 1 to {MAX_CI_TEST_JOBS}. "
        "Type e.g. ci_test_jobs=1 (one CI test job) or ci_test_jobs=4"
    )


def check_choice(option: str, value: str) -> str | None:
    allowed = CHOICES[option]
    if value in allowed:
        return None
    return f"{option} {value!r} is not supported. Type one of: {', '.join(allowed)}"


def collect_errors(answers: Mapping[str, object]) -> list[str]:
    """Run every check; a missing answer is checked as an empty string."""

    def answer(name: str) -> str:
        return str(answers.get(name, ""))

    package_name = answer("package_name")
    # The name checks after the syntax one would only repeat its complaint.
    package_checks = (
        [check_package_name_syntax]
        if check_package_name_syntax(package_name)
        else [
            check_package_name_length,
            check_package_name_not_keyword,
            check_package_name_not_stdlib,
            check_package_name_not_reserved,
        ]
    )
    results = [
        check_project_name(answer("project_name")),
        check_project_slug(answer("project_slug")),
        *(check(package_name) for check in package_checks),
        check_author_email(answer("author_email")),
        check_ci_test_jobs(answer("ci_test_jobs")),
        *(check_choice(option, answer(option)) for option in CHOICES),
    ]
    return [error for error in results if error is not None]


def format_errors(errors: list[str]) -> str:
    lines = [f"ERROR: cannot generate the project, {len(errors)} answer(s) need fixing:"]
    lines += [f"  - {error}" for error in errors]
    lines.append(
        "Nothing was generated. Run cookiecutter again with the corrected answers, "
        "e.g. `cookiecutter <template> project_slug=my-service package_name=my_service`."
    )
    return "\n".join(lines)


def main(answers: Mapping[str, object]) -> int:
    errors = collect_errors(answers)
    if errors:
        print(format_errors(errors), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(CONTEXT_JSON)))
