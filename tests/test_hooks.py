"""The hooks: invalid answers stop the bake; the hook helpers, unit by unit."""

from __future__ import annotations

import ast
import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from baking import (
    HOOKS_DIR,
    PROJECT_TEMPLATE_DIR,
    TEMPLATE_DIR,
    Bake,
    default_answers,
    render_hook,
)
from cookiecutter.exceptions import FailedHookException

TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")

# (answers, option the error message must name)
INVALID_ANSWERS = {
    "slug-with-space": ({"project_slug": "My Service"}, "project_slug"),
    "slug-uppercase": ({"project_slug": "My-Service"}, "project_slug"),
    "slug-leading-digit": ({"project_slug": "9-lives"}, "project_slug"),
    "slug-double-hyphen": ({"project_slug": "my--service"}, "project_slug"),
    "slug-trailing-hyphen": ({"project_slug": "my-service-"}, "project_slug"),
    "slug-underscore": ({"project_slug": "my_service"}, "project_slug"),
    "package-hyphen": ({"package_name": "my-service"}, "package_name"),
    "package-uppercase": ({"package_name": "My_Service"}, "package_name"),
    "package-leading-underscore": ({"package_name": "_service"}, "package_name"),
    "package-keyword": ({"package_name": "class"}, "package_name"),
    "package-stdlib": ({"package_name": "json"}, "package_name"),
    "package-stdlib-asyncio": ({"package_name": "asyncio"}, "package_name"),
    "package-stdlib-test": ({"package_name": "test"}, "package_name"),
    "package-dependency-fastapi": ({"package_name": "fastapi"}, "package_name"),
    "package-dependency-sqlalchemy": ({"package_name": "sqlalchemy"}, "package_name"),
    "package-dependency-jwt": ({"package_name": "jwt"}, "package_name"),
    "package-layout-tests": ({"package_name": "tests"}, "package_name"),
    "package-layout-migrations": ({"package_name": "migrations"}, "package_name"),
    # The default slug falls back to a placeholder, so an empty name reaches the hook.
    "empty-name": ({"project_name": ""}, "project_name"),
    "blank-name": ({"project_name": "   "}, "project_name"),
    "package-too-long": (
        {"package_name": "a_really_long_package_name_for_a_service_x"},
        "package_name",
    ),
    "bad-email": ({"author_email": "not-an-email"}, "author_email"),
    "ci-test-jobs-zero": ({"ci_test_jobs": "0"}, "ci_test_jobs"),
    "ci-test-jobs-too-many": ({"ci_test_jobs": "21"}, "ci_test_jobs"),
    "ci-test-jobs-word": ({"ci_test_jobs": "two"}, "ci_test_jobs"),
    "ci-test-jobs-negative": ({"ci_test_jobs": "-1"}, "ci_test_jobs"),
}

# cookiecutter rejects these itself when they come as extra_context; a replay
# file (or any hand-made context) is how they reach the hooks.
INVALID_OPTION_VALUES = {
    "database-mysql": ({"database": "mysql"}, "database"),
    "use-redis-yes": ({"use_redis": "yes"}, "use_redis"),
    "ci-travis": ({"ci": "travis"}, "ci"),
    "python-3.10": ({"python_version": "3.10"}, "python_version"),
    "license-gpl": ({"license": "GPL-3.0"}, "license"),
}


# --- Invalid answers stop the bake ------------------------------------------------


# Option values go through a replay file: cookiecutter rejects them itself in extra_context.
REJECTED_BAKES = [
    pytest.param(answers, option, "bake", id=name)
    for name, (answers, option) in INVALID_ANSWERS.items()
] + [
    pytest.param(answers, option, "bake_from_replay", id=name)
    for name, (answers, option) in INVALID_OPTION_VALUES.items()
]


@pytest.mark.parametrize(("answers", "option", "baker"), REJECTED_BAKES)
def test_invalid_answer_fails_the_bake_and_leaves_nothing(
    request: pytest.FixtureRequest,
    output_dir: Path,
    capfd: pytest.CaptureFixture[str],
    answers: dict[str, str],
    option: str,
    baker: str,
) -> None:
    bake: Bake = request.getfixturevalue(baker)
    with pytest.raises(FailedHookException):
        bake(**answers)

    assert list(output_dir.iterdir()) == []
    message = capfd.readouterr().err
    assert option in message
    assert "Type" in message, "the message must say what to type instead"


def test_cookiecutter_itself_rejects_unknown_choice_in_extra_context(
    bake: Bake, output_dir: Path
) -> None:
    # Documents why the option tests above go through a replay file.
    with pytest.raises(ValueError, match="database"):
        bake(database="mysql")
    assert list(output_dir.iterdir()) == []


def test_every_error_is_reported_at_once(bake: Bake, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FailedHookException):
        bake(project_slug="Bad Slug", package_name="json", author_email="nobody")

    message = capfd.readouterr().err
    for option in ("project_slug", "package_name", "author_email"):
        assert option in message


# --- The raw hook files stay importable Python ------------------------------------


@pytest.mark.parametrize("name", ["pre_gen_project", "post_gen_project"])
def test_hook_has_one_template_expression_inside_a_string(name: str) -> None:
    source = (HOOKS_DIR / f"{name}.py").read_text(encoding="utf-8")
    templated_lines = [line for line in source.splitlines() if TEMPLATE_SYNTAX.search(line)]

    assert templated_lines == ['CONTEXT_JSON = r"""{{ cookiecutter | jsonify }}"""']


# Free-text answers that could end the raw string early or mangle the JSON.
AWKWARD_TEXT = {
    "triple-double-quote": '"""',
    "embedded-triple-quotes": 'say """hi"""',
    "trailing-double-quote": 'ends with a quote"',
    "trailing-backslash": "ends with a backslash\\",
    "escaped-quotes": '\\"\\"',
    "single-quotes": "O'Brien '''triple'''",
    "escape-lookalikes": "literal \\u0027 and \\n",
    "non-ascii": "unicode é ✓",
}


def rendered_context_json(source: str) -> str:
    """Parse rendered hook source (proving it is valid Python) and return CONTEXT_JSON."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "CONTEXT_JSON":
            value = ast.literal_eval(node.value)
            assert isinstance(value, str)
            return value
    raise AssertionError("CONTEXT_JSON not found")


@pytest.mark.parametrize("name", ["pre_gen_project", "post_gen_project"])
@pytest.mark.parametrize("text", AWKWARD_TEXT.values(), ids=list(AWKWARD_TEXT))
def test_rendered_hook_round_trips_awkward_answers(name: str, text: str) -> None:
    answers = default_answers() | {"description": text, "author_name": text}

    context_json = rendered_context_json(render_hook(name, answers))

    assert json.loads(context_json) == answers


def test_rendered_pre_gen_hook_exit_status(tmp_path: Path) -> None:
    script = tmp_path / "pre_gen_project.py"

    script.write_text(render_hook("pre_gen_project", default_answers()), encoding="utf-8")
    assert subprocess.run([sys.executable, script], check=False).returncode == 0

    bad = default_answers() | {"package_name": "fastapi"}
    script.write_text(render_hook("pre_gen_project", bad), encoding="utf-8")
    result = subprocess.run([sys.executable, script], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "package_name=fastapi_app" in result.stderr


# --- pre_gen_project helpers ------------------------------------------------------


def test_choices_match_cookiecutter_json(pre_gen_hook: ModuleType) -> None:
    template_options = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())

    for option, allowed in pre_gen_hook.CHOICES.items():
        assert set(allowed) == set(template_options[option]), option


def test_default_answers_are_valid(pre_gen_hook: ModuleType) -> None:
    assert pre_gen_hook.collect_errors(default_answers()) == []


@pytest.mark.parametrize("slug", ["my-service", "a", "api2", "my-service-2", "x9-y8"])
def test_valid_slug(pre_gen_hook: ModuleType, slug: str) -> None:
    assert pre_gen_hook.check_project_slug(slug) is None


@pytest.mark.parametrize(
    "slug", ["", "My-Service", "my service", "-my", "my-", "my--service", "9-lives", "my_service"]
)
def test_invalid_slug(pre_gen_hook: ModuleType, slug: str) -> None:
    assert "project_slug" in pre_gen_hook.check_project_slug(slug)


@pytest.mark.parametrize("name", ["my_service", "app", "service2", "a_b_c"])
def test_valid_package_name(pre_gen_hook: ModuleType, name: str) -> None:
    answers = default_answers() | {"package_name": name}
    assert pre_gen_hook.collect_errors(answers) == []


@pytest.mark.parametrize(
    ("check", "name"),
    [
        ("check_package_name_syntax", ""),
        ("check_package_name_syntax", "My_Service"),
        ("check_package_name_syntax", "my-service"),
        ("check_package_name_syntax", "_private"),
        ("check_package_name_syntax", "2fast"),
        ("check_package_name_length", "a_really_long_package_name_for_a_service_x"),
        ("check_package_name_not_keyword", "class"),
        ("check_package_name_not_keyword", "async"),
        ("check_package_name_not_stdlib", "json"),
        ("check_package_name_not_stdlib", "typing"),
        ("check_package_name_not_stdlib", "distutils"),
        ("check_package_name_not_reserved", "fastapi"),
        ("check_package_name_not_reserved", "pydantic_settings"),
        ("check_package_name_not_reserved", "asgi_lifespan"),
        ("check_package_name_not_reserved", "tests"),
        ("check_package_name_not_reserved", "migrations"),
    ],
)
def test_invalid_package_name(pre_gen_hook: ModuleType, check: str, name: str) -> None:
    message = getattr(pre_gen_hook, check)(name)
    assert "package_name" in message
    assert "Type instead: package_name=" in message


def test_syntax_error_hides_the_name_checks(pre_gen_hook: ModuleType) -> None:
    answers = default_answers() | {"package_name": "Class"}
    assert len(pre_gen_hook.collect_errors(answers)) == 1


@pytest.mark.parametrize(
    "value", ["My Service!", "  Billing  API ", "9 Lives", "___", "", "fastapi", "class", "json"]
)
def test_suggestions_are_valid_answers(pre_gen_hook: ModuleType, value: str) -> None:
    slug = pre_gen_hook.suggest_slug(value)
    package_name = pre_gen_hook.suggest_package_name(value)
    answers = default_answers() | {"project_slug": slug, "package_name": package_name}

    assert pre_gen_hook.collect_errors(answers) == []


def test_reserved_names_are_all_choosable_otherwise(pre_gen_hook: ModuleType) -> None:
    # A reserved name the syntax check already rejects would be dead weight.
    for name in pre_gen_hook.RESERVED_MODULE_NAMES:
        assert pre_gen_hook.check_package_name_syntax(name) is None, name


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_blank_project_name(pre_gen_hook: ModuleType, name: str) -> None:
    assert "project_name" in pre_gen_hook.check_project_name(name)


@pytest.mark.parametrize("email", ["you@example.com", "first.last+tag@mail.example.org"])
def test_valid_email(pre_gen_hook: ModuleType, email: str) -> None:
    assert pre_gen_hook.check_author_email(email) is None


@pytest.mark.parametrize("email", ["", "you", "you@", "@example.com", "you@example", "a b@c.d"])
def test_invalid_email(pre_gen_hook: ModuleType, email: str) -> None:
    assert "author_email" in pre_gen_hook.check_author_email(email)


@pytest.mark.parametrize(
    ("option", "value"),
    [("database", "mysql"), ("use_redis", "yes"), ("ci", "circle"), ("python_version", "3.10")],
)
def test_invalid_choice_lists_allowed_values(
    pre_gen_hook: ModuleType, option: str, value: str
) -> None:
    message = pre_gen_hook.check_choice(option, value)
    assert option in message
    assert all(allowed in message for allowed in pre_gen_hook.CHOICES[option])


def test_missing_answer_is_an_error_not_a_crash(pre_gen_hook: ModuleType) -> None:
    answers = default_answers()
    del answers["database"]
    assert any("database" in error for error in pre_gen_hook.collect_errors(answers))


def test_main_prints_errors_to_stderr_and_returns_1(
    pre_gen_hook: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pre_gen_hook.main(default_answers() | {"project_slug": "Bad"}) == 1
    captured = capsys.readouterr()
    assert "project_slug" in captured.err
    assert "Nothing was generated" in captured.err


def test_main_returns_0_for_valid_answers(
    pre_gen_hook: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pre_gen_hook.main(default_answers()) == 0
    assert capsys.readouterr().err == ""


# --- post_gen_project helpers -----------------------------------------------------

RATE_LIMIT_FILES = {"src/my_service/rate_limit.py", "tests/test_rate_limit.py"}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"database": "postgresql", "use_redis": "y", "ci": "github"},
            {".gitlab-ci.yml"},
        ),
        (
            {"database": "postgresql", "use_redis": "n", "ci": "gitlab"},
            {".github"} | RATE_LIMIT_FILES,
        ),
        (
            {"database": "sqlite", "use_redis": "y", "ci": "none"},
            {".github", ".gitlab-ci.yml"},
        ),
        (
            {"database": "sqlite", "use_redis": "n", "ci": "none"},
            {".github", ".gitlab-ci.yml", "compose.test.yaml"} | RATE_LIMIT_FILES,
        ),
    ],
)
def test_paths_to_remove(
    post_gen_hook: ModuleType, options: dict[str, str], expected: set[str]
) -> None:
    answers = default_answers() | options
    assert set(post_gen_hook.paths_to_remove(answers)) == expected


def test_remove_disabled_option_files(post_gen_hook: ModuleType, tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("on: push\n")
    (tmp_path / ".gitlab-ci.yml").write_text("test: {}\n")
    (tmp_path / "keep.txt").write_text("kept\n")
    answers = default_answers() | {"ci": "none", "use_redis": "y"}

    # rate_limit.py and friends do not exist here: removing them must not fail.
    post_gen_hook.remove_disabled_option_files(tmp_path, answers)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["keep.txt"]


def test_render_env_replaces_only_the_secret_key(post_gen_hook: ModuleType) -> None:
    example = "# Settings\nENVIRONMENT=development\nSECRET_KEY=change-me\nDB_ECHO=false\n"

    rendered = post_gen_hook.render_env(example, "s" * 64)

    assert rendered == example.replace("SECRET_KEY=change-me", "SECRET_KEY=" + "s" * 64)


def test_render_env_adds_a_missing_secret_key(post_gen_hook: ModuleType) -> None:
    assert post_gen_hook.render_env("A=1", "key") == "A=1\nSECRET_KEY=key\n"
    assert post_gen_hook.render_env("", "key") == "SECRET_KEY=key\n"


def test_render_env_keeps_backslashes_in_the_key(post_gen_hook: ModuleType) -> None:
    assert post_gen_hook.render_env("SECRET_KEY=\n", r"a\1b") == "SECRET_KEY=a\\1b\n"


def test_write_env_file_copies_the_example(post_gen_hook: ModuleType, tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("A=1\nSECRET_KEY=\nB=2\n")

    env_file = post_gen_hook.write_env_file(tmp_path, "k" * 64)

    assert env_file.read_text() == f"A=1\nSECRET_KEY={'k' * 64}\nB=2\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_write_env_file_without_example(post_gen_hook: ModuleType, tmp_path: Path) -> None:
    env_file = post_gen_hook.write_env_file(tmp_path, "k" * 64)
    assert env_file.read_text() == f"SECRET_KEY={'k' * 64}\n"


def test_secret_keys_are_long_and_fresh(post_gen_hook: ModuleType) -> None:
    first, second = post_gen_hook.new_secret_key(), post_gen_hook.new_secret_key()
    assert len(first) >= 32
    assert first != second


@pytest.mark.parametrize("has_test_services", [True, False])
def test_next_steps(post_gen_hook: ModuleType, has_test_services: bool) -> None:
    steps = post_gen_hook.next_steps("my-service", has_test_services)

    assert steps[:2] == ["cd my-service", "uv sync"]
    assert any(step.startswith("make up") for step in steps) is has_test_services
    assert [step.split()[:2] for step in steps[-2:]] == [["make", "test"], ["make", "migrate"]]


def test_post_gen_main(
    post_gen_hook: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(PROJECT_TEMPLATE_DIR / ".licenses", tmp_path / ".licenses")
    (tmp_path / ".env.example").write_text("SECRET_KEY=change-me\n")
    (tmp_path / "compose.test.yaml").write_text("services: {}\n")
    (tmp_path / ".gitlab-ci.yml").write_text("test: {}\n")
    answers = default_answers() | {"ci": "github", "database": "postgresql"}

    assert post_gen_hook.main(answers, tmp_path) == 0

    assert not (tmp_path / ".gitlab-ci.yml").exists()
    assert (tmp_path / ".env").read_text() != "SECRET_KEY=change-me\n"
    assert (tmp_path / "LICENSE").read_text().startswith("MIT License")
    assert not (tmp_path / ".licenses").exists()
    output = capsys.readouterr().out
    assert "cd my-service" in output
    assert "make up" in output


# --- post_gen_project: LICENSE ----------------------------------------------------

LICENSE_HEADINGS = {
    "MIT": "MIT License",
    "Apache-2.0": "Apache License",
    "BSD-3-Clause": "BSD 3-Clause License",
    "proprietary": "Copyright (c) 2031 Ada Lovelace. All rights reserved.",
}


def test_every_license_choice_has_a_text(post_gen_hook: ModuleType) -> None:
    choices = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())["license"]
    texts = sorted(path.name for path in (PROJECT_TEMPLATE_DIR / ".licenses").iterdir())

    assert set(choices) == {*post_gen_hook.LICENSE_TEXT_FILES, "proprietary"}
    assert texts == sorted(post_gen_hook.LICENSE_TEXT_FILES.values())


@pytest.mark.parametrize("choice", list(LICENSE_HEADINGS))
def test_write_license(post_gen_hook: ModuleType, tmp_path: Path, choice: str) -> None:
    shutil.copytree(PROJECT_TEMPLATE_DIR / ".licenses", tmp_path / ".licenses")

    post_gen_hook.write_license(tmp_path, choice, "Ada Lovelace", 2031)

    text = (tmp_path / "LICENSE").read_text(encoding="utf-8")
    assert text.strip().startswith(LICENSE_HEADINGS[choice])
    assert "2031" in text
    assert "Ada Lovelace" in text
    assert "<year>" not in text
    assert "<copyright holder>" not in text
    assert not (tmp_path / ".licenses").exists()


def test_apache_license_is_the_full_text() -> None:
    text = (PROJECT_TEMPLATE_DIR / ".licenses" / "Apache-2.0.txt").read_text(encoding="utf-8")
    sections = re.findall(r"^   (\d)\. ", text, re.MULTILINE)

    assert sections == [str(number) for number in range(1, 10)]
    assert "END OF TERMS AND CONDITIONS" in text


# --- post_gen_project: .cruft.json --------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("gh:acme/template", "https://github.com/acme/template.git"),
        ("gl:acme/template", "https://gitlab.com/acme/template.git"),
        ("https://example.com/acme/template.git", "https://example.com/acme/template.git"),
        ("git@example.com:acme/template.git", "git@example.com:acme/template.git"),
    ],
)
def test_expand_template_source(post_gen_hook: ModuleType, source: str, expected: str) -> None:
    assert post_gen_hook.expand_template_source(source) == expected


def test_relative_template_path_is_made_absolute_from_where_cookiecutter_ran(
    post_gen_hook: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PWD", str(tmp_path))
    assert post_gen_hook.expand_template_source("templates/api") == str(tmp_path / "templates/api")


def git_repository_with_one_commit(path: Path) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "--quiet", str(path)], check=True)
    (path / "cookiecutter.json").write_text("{}")
    subprocess.run(["git", "-C", str(path), "add", "."], check=True)
    subprocess.run(["git", "-C", str(path), *identity, "commit", "-qm", "one"], check=True)
    head = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return head.stdout.strip()


def test_write_cruft_state_from_a_git_template(post_gen_hook: ModuleType, tmp_path: Path) -> None:
    template = tmp_path / "template"
    head = git_repository_with_one_commit(template)
    project = tmp_path / "project"
    project.mkdir()
    answers = default_answers() | {
        "_template": str(template),
        "_repo_dir": str(template),
        "_output_dir": str(tmp_path),
        "_checkout": None,
    }

    assert post_gen_hook.write_cruft_state(project, answers) is True

    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["template"] == str(template)
    assert state["commit"] == head
    assert state["checkout"] is None
    context = state["context"]["cookiecutter"]
    assert context["_commit"] == head
    assert context["package_name"] == answers["package_name"]
    assert "_repo_dir" not in context
    assert "_output_dir" not in context


def test_cruft_commit_passed_by_cruft_wins(post_gen_hook: ModuleType) -> None:
    answers = {"_commit": "abc123", "_repo_dir": "/nonexistent"}
    assert post_gen_hook.template_commit(answers) == "abc123"


def test_no_cruft_state_for_a_template_folder_inside_another_repository(
    post_gen_hook: ModuleType, tmp_path: Path
) -> None:
    git_repository_with_one_commit(tmp_path / "monorepo")
    template = tmp_path / "monorepo" / "templates" / "api"
    template.mkdir(parents=True)
    answers = default_answers() | {"_template": str(template), "_repo_dir": str(template)}

    assert post_gen_hook.template_commit(answers) is None
    assert post_gen_hook.write_cruft_state(tmp_path, answers) is False


def test_no_cruft_state_without_a_git_template(post_gen_hook: ModuleType, tmp_path: Path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    answers = default_answers() | {"_template": str(template), "_repo_dir": str(template)}

    assert post_gen_hook.write_cruft_state(tmp_path, answers) is False
    assert not (tmp_path / ".cruft.json").exists()
