"""Apply docs/adopting-real-projects.md to the legacy project in tests/adoption/.

The page marks the blocks a reader applies with an HTML comment right above the fence,
`<!-- adoption: ACTION [PATH] -->`:

- `patch PATH` (a ```diff block): the before side must occur in PATH exactly once; it is
  replaced by the after side.
- `write PATH`: the block is the whole new file. `append PATH`: added at the end of PATH.
- `run`: a shell block, run in the project directory.
- `copy`: the shell block that copies the harness out of a bake; the file names on it are
  what gets copied.
- `fix PATH` (a ```diff block): like `patch`, but it is the fix for a failure the page
  shows first, so it is applied only after that failure was seen.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
GUIDE_PAGE = TEMPLATE_DIR / "docs" / "adopting-real-projects.md"
LEGACY_PROJECT = TEMPLATE_DIR / "tests" / "adoption" / "legacy_project"
PACKAGE = "legacy_app"

MARKER = re.compile(r"^<!--\s*adoption:\s*(?P<action>\w+)(?:\s+(?P<path>\S+))?\s*-->\s*$")
FENCE = re.compile(r"^```(?P<language>\w*)\s*$")
HARNESS_FILE = re.compile(r"\b\w+\.py\b")
ACTIONS = {"patch", "write", "append", "run", "copy", "fix"}
PATH_ACTIONS = {"patch", "write", "append", "fix"}


class GuideError(Exception):
    """A marked block cannot be applied: the page and the project disagree."""


@dataclass(frozen=True)
class Step:
    action: str
    path: str
    language: str
    text: str
    line: int

    @property
    def where(self) -> str:
        return f"{GUIDE_PAGE.name}:{self.line}"


def read_steps(page: Path = GUIDE_PAGE) -> list[Step]:
    lines = page.read_text(encoding="utf-8").splitlines()
    steps: list[Step] = []
    for index, line in enumerate(lines):
        marker = MARKER.match(line)
        if not marker:
            continue
        fence = FENCE.match(lines[index + 1]) if index + 1 < len(lines) else None
        if fence is None:
            raise GuideError(f"{page.name}:{index + 1}: an adoption marker must precede a fence")
        action, path = marker["action"], marker["path"] or ""
        if action not in ACTIONS or (action in PATH_ACTIONS) != bool(path):
            raise GuideError(f"{page.name}:{index + 1}: bad adoption marker {line!r}")
        end = lines.index("```", index + 2)
        body = "\n".join(lines[index + 2 : end]) + "\n"
        steps.append(Step(action, path, fence["language"], body, index + 1))
    return steps


def diff_sides(text: str) -> tuple[str, str]:
    before: list[str] = []
    after: list[str] = []
    for line in text.splitlines():
        prefix, rest = line[:1], line[1:]
        if prefix in {" ", ""}:
            before.append(rest)
            after.append(rest)
        elif prefix == "-":
            before.append(rest)
        elif prefix == "+":
            after.append(rest)
        else:
            raise GuideError(f"not a diff line: {line!r}")
    return "\n".join(before) + "\n", "\n".join(after) + "\n"


def apply_file_step(project: Path, step: Step) -> None:
    target = project / step.path
    if step.action == "write":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(step.text, encoding="utf-8")
        return
    if not target.is_file():
        raise GuideError(f"{step.where}: {step.path} does not exist in the project")
    current = target.read_text(encoding="utf-8")
    if step.action == "append":
        target.write_text(current.rstrip("\n") + "\n\n" + step.text, encoding="utf-8")
        return
    before, after = diff_sides(step.text)
    found = current.count(before)
    if found != 1:
        raise GuideError(
            f"{step.where}: the before side of the diff occurs {found} times in {step.path}"
        )
    target.write_text(current.replace(before, after), encoding="utf-8")


def harness_files(step: Step) -> list[str]:
    """The files the `copy` block copies: the `.py` names on its `cp` command."""
    command = step.text[step.text.index("cp ") :]
    return list(dict.fromkeys(HARNESS_FILE.findall(command)))


def copy_harness(bake: Path, project: Path, names: list[str]) -> None:
    for name in names:
        shutil.copy2(bake / "tests" / name, project / "tests" / name)


def touches_harness(step: Step, names: list[str]) -> bool:
    return step.path.startswith("tests/") and step.path.removeprefix("tests/") in names
