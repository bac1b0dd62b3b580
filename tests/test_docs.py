"""Check every code block in docs/ against reality.

- A block right after a `<!-- from: PATH -->` line claims to come from the generated
  project: after dedent it must be a contiguous run of lines of PATH in a project baked
  with the default answers (the real post-generation hook runs).
- Any other ```python block must compile.
- A ```diff block is a before/after of Python code: lines starting with "-" belong to
  the before side, "+" to the after side, " " (or an empty line) to both; each side
  must compile.
- ```toml and ```yaml blocks must parse, ```bash blocks must pass `bash -n`, ```text
  blocks (error messages, output, diagrams) must not be empty.

Besides the blocks: every relative link in docs/ and in the README resolves, every page
is listed in docs/README.md, and the README's test command is the one CI runs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
DOCS_DIR = TEMPLATE_DIR / "docs"
README = TEMPLATE_DIR / "README.md"
CI_ENTRY_POINT = TEMPLATE_DIR / ".ci" / "run"

OPENING_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)[^`]*$")
SOURCE_MARKER = re.compile(r"^\s*<!--\s*from:\s*(?P<path>\S+)\s*-->\s*$")
INLINE_LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")

PLAIN_LANGUAGES = {"text"}
# Languages whose blocks must parse as data: the parser and the error it raises.
DATA_PARSERS: dict[str, tuple[Callable[[str], object], type[Exception]]] = {
    "toml": (tomllib.loads, tomllib.TOMLDecodeError),
    "yaml": (yaml.safe_load, yaml.YAMLError),
}
KNOWN_LANGUAGES = {"python", "diff", "toml", "yaml", "bash", *PLAIN_LANGUAGES}
BASH = shutil.which("bash")


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    language: str
    source: str | None  # the PATH of a `<!-- from: PATH -->` marker
    text: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass(frozen=True)
class Problem:
    """Something wrong with a page's structure, found while reading its blocks."""

    page: str
    line: int
    message: str


def doc_pages() -> list[Path]:
    return sorted(DOCS_DIR.glob("*.md"))


def read_blocks(page: Path) -> tuple[list[Block], list[Problem]]:
    """The fenced code blocks of a Markdown page, and structural problems on it."""
    name = page.relative_to(DOCS_DIR).as_posix()
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    problems: list[Problem] = []
    index = 0
    while index < len(lines):
        marker = SOURCE_MARKER.match(lines[index])
        opening = OPENING_FENCE.match(lines[index])
        if marker and not (index + 1 < len(lines) and OPENING_FENCE.match(lines[index + 1])):
            problems.append(
                Problem(name, index + 1, "a `from:` marker must be directly followed by a fence")
            )
        if not opening:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        previous = SOURCE_MARKER.match(lines[index - 1]) if index > 0 else None
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            stripped = lines[end].strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                break
            # Inside a list item the fence is indented; so is its content.
            content = lines[end]
            removable = len(content) - len(content.lstrip(" "))
            body.append(content[min(indent, removable) :])
            end += 1
        if end == len(lines):
            problems.append(Problem(name, index + 1, "the code block is never closed"))
        blocks.append(
            Block(
                page=name,
                line=index + 1,
                language=opening["info"].lower(),
                source=previous["path"] if previous else None,
                text="\n".join(body) + "\n",
            )
        )
        index = end + 1
    return blocks, problems


def collect() -> tuple[list[Block], list[Problem]]:
    blocks: list[Block] = []
    problems: list[Problem] = []
    for page in doc_pages():
        page_blocks, page_problems = read_blocks(page)
        blocks += page_blocks
        problems += page_problems
    return blocks, problems


BLOCKS, PROBLEMS = collect()
EXCERPTS = [block for block in BLOCKS if block.source is not None]
OTHERS = [block for block in BLOCKS if block.source is None]


# ── The one bake every excerpt is compared with ─────────────────────────────────────────


@pytest.fixture(scope="module")
def baked_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project `cookiecutter --no-input` makes, post-generation hook included."""
    home = tmp_path_factory.mktemp("docs-cookiecutter-home")
    config = home / "config.yaml"
    # Our own config: no ~/.cookiecutterrc is read, no replay file lands in the home dir.
    settings = {"cookiecutters_dir": str(home / "templates"), "replay_dir": str(home / "replay")}
    config.write_text(
        "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items()),
        encoding="utf-8",
    )
    output = tmp_path_factory.mktemp("docs-bake")
    project = cookiecutter(
        str(TEMPLATE_DIR), no_input=True, output_dir=str(output), config_file=str(config)
    )
    return Path(project)


# ── Checks ───────────────────────────────────────────────────────────────────────────────


def _dedented_lines(text: str) -> list[str]:
    return textwrap.dedent(text).strip("\n").splitlines()


def is_excerpt(excerpt: str, source: str) -> bool:
    """True when `excerpt`, dedented, equals some contiguous run of lines of `source`
    dedented by that run's own common indentation."""
    wanted = _dedented_lines(excerpt)
    if not wanted:
        return False
    lines = source.splitlines()
    first = wanted[0].strip()
    for start in range(len(lines) - len(wanted) + 1):
        if lines[start].strip() != first:
            continue
        window = "\n".join(lines[start : start + len(wanted)])
        if _dedented_lines(window) == wanted:
            return True
    return False


def _excerpt_hint(excerpt: str, source: str) -> str:
    present = {line.strip() for line in source.splitlines()}
    missing = [line for line in _dedented_lines(excerpt) if line.strip() not in present]
    if missing:
        return "lines not found anywhere in the file:\n    " + "\n    ".join(missing[:5])
    return "every line exists, but not as one contiguous run with this indentation"


def diff_sides(text: str) -> tuple[str, str]:
    """The before and after sides of a ```diff block (unified-diff line prefixes)."""
    before: list[str] = []
    after: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        prefix, rest = line[:1], line[1:]
        if prefix == "-":
            before.append(rest)
        elif prefix == "+":
            after.append(rest)
        elif prefix in {" ", ""}:
            before.append(rest)
            after.append(rest)
        else:
            raise ValueError(f"line {number} of the diff starts with {prefix!r}: {line!r}")
    return "\n".join(before) + "\n", "\n".join(after) + "\n"


def _compile_error(source: str, name: str) -> str | None:
    try:
        compile(source, name, "exec")
    except SyntaxError as exc:
        return f"{exc.msg} (line {exc.lineno} of the block): {exc.text!r}"
    return None


def excerpt_error(block: Block, project: Path) -> str | None:
    assert block.source is not None
    path = project / block.source
    if not path.is_file():
        return (
            f"the block says it comes from {block.source}, "
            "which a default-baked project does not have"
        )
    source = path.read_text(encoding="utf-8")
    if is_excerpt(block.text, source):
        return None
    return (
        f"the block marked `from: {block.source}` is not a verbatim, contiguous excerpt of "
        f"that file in a default-baked project; {_excerpt_hint(block.text, source)}"
    )


def block_error(block: Block) -> str | None:
    """What is wrong with a block that does not quote the generated project, if anything."""
    if block.language not in KNOWN_LANGUAGES:
        return (
            f"code block language {block.language!r} is not one the docs check; "
            f"use one of {sorted(KNOWN_LANGUAGES)}"
        )
    if not block.text.strip():
        return "empty code block"
    if block.language == "python":
        error = _compile_error(block.text, block.where)
        return f"the Python block does not compile: {error}" if error else None
    if block.language == "diff":
        try:
            before, after = diff_sides(block.text)
        except ValueError as exc:
            return str(exc)
        for side, source in (("before", before), ("after", after)):
            error = _compile_error(source, f"{block.where} ({side})")
            if error:
                return f"the {side} side of the diff does not compile: {error}"
        return None
    if block.language in DATA_PARSERS:
        parse, error_type = DATA_PARSERS[block.language]
        try:
            parse(block.text)
        except error_type as exc:
            return f"the {block.language.upper()} block does not parse: {exc}"
        return None
    if block.language == "bash":
        # The guide's shell blocks must be checked, never silently passed over.
        assert BASH is not None, "bash is needed to check the guide's shell blocks"
        # Syntax only: -n reads the block from stdin and executes nothing.
        result = subprocess.run(
            [BASH, "-n"], input=block.text, capture_output=True, text=True, check=False, timeout=30
        )
        return f"bash -n rejects the block: {result.stderr.strip()}" if result.returncode else None
    return None  # text: anything non-empty


@pytest.mark.parametrize("block", EXCERPTS, ids=[block.where for block in EXCERPTS])
def test_excerpt_is_in_the_generated_project(block: Block, baked_project: Path) -> None:
    error = excerpt_error(block, baked_project)
    if error:
        pytest.fail(f"{block.where}: {error}", pytrace=False)


@pytest.mark.parametrize("block", OTHERS, ids=[block.where for block in OTHERS])
def test_code_block_is_valid(block: Block) -> None:
    error = block_error(block)
    if error:
        pytest.fail(f"{block.where}: {error}", pytrace=False)


def test_pages_are_well_formed() -> None:
    assert not PROBLEMS, "\n".join(
        f"{problem.page}:{problem.line}: {problem.message}" for problem in PROBLEMS
    )


def test_the_docs_have_code_blocks() -> None:
    # Guards the parametrisation above: a parser that finds nothing checks nothing.
    assert len(doc_pages()) >= 3, "docs/ has (almost) no pages"
    assert EXCERPTS, "no `<!-- from: ... -->` excerpt found in docs/"
    assert [block for block in OTHERS if block.language == "diff"], "no diff block in docs/"


# ── Links, index, README ─────────────────────────────────────────────────────────────────


def heading_anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors_of(page: Path) -> set[str]:
    anchors: set[str] = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if OPENING_FENCE.match(line):
            in_code = not in_code
        heading = HEADING.match(line)
        if heading and not in_code:
            anchors.add(heading_anchor(heading["title"]))
    return anchors


def relative_links(page: Path) -> Iterator[tuple[int, str]]:
    in_code = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        if OPENING_FENCE.match(line):
            in_code = not in_code
        if in_code:
            continue
        for match in INLINE_LINK.finditer(line):
            target = match["target"]
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):
                yield number, target


LINKED_PAGES = [*doc_pages(), README]


@pytest.mark.parametrize(
    "page", LINKED_PAGES, ids=[page.relative_to(TEMPLATE_DIR).as_posix() for page in LINKED_PAGES]
)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for number, target in relative_links(page):
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"line {number}: {target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors_of(linked):
            broken.append(f"line {number}: {target} (no heading with that anchor)")
    assert not broken, f"{page.relative_to(TEMPLATE_DIR)}: broken links:\n" + "\n".join(broken)


def test_every_page_is_in_the_index() -> None:
    index = DOCS_DIR / "README.md"
    linked = {target.partition("#")[0] for _, target in relative_links(index)}
    missing = [
        page.name for page in doc_pages() if page.name != "README.md" and page.name not in linked
    ]
    assert not missing, f"docs/README.md does not link to: {missing}"


def test_readme_gives_the_test_command_ci_runs() -> None:
    commands = [
        line.strip()
        for line in CI_ENTRY_POINT.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("uv run pytest")
    ]
    assert commands, ".ci/run runs no `uv run pytest`"
    readme_lines = {line.strip() for line in README.read_text(encoding="utf-8").splitlines()}
    for command in commands:
        assert command in readme_lines, f"README.md does not give CI's test command: {command}"
