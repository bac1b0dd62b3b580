"""Does session start depend on the length of the migration history? Measure it.

    uv run python benchmarks/migrations.py [--database postgresql|sqlite] [--extra 200]
        [--rounds 5] [--template DIR] [--keep]

Bakes the template twice: as generated (one migration), and the same project plus
`--extra` trivial migrations (a table and an index each). Installs both (`uv sync`),
then times the wall clock of a one-test run (`uv run pytest <one test>`, coverage off),
interleaved: project A, project B, A, B, ... so that other load on the machine hits both
alike; prints the median and the fastest of each. Two states:

- cold: `--create-db`, the migrated template is rebuilt (what every run paid before the
  template was cached by fingerprint);
- warm: nothing changed since the last run, the cached template is reused.

Prints the medians and the ratio of the long history to the short one, per state.
This is a measurement, not a test: nothing here asserts a target; read the numbers.
Needs the same services as the generated suite (PostgreSQL; Redis with use_redis=y).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from cookiecutter.main import cookiecutter
from sqlalchemy.engine import make_url

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
ONE_TEST = "tests/test_health.py::test_health_reports_every_service_ok"

EXTRA_MIGRATION = '''"""Extra migration {n}: one table and one index.

Revision ID: x{n:04d}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "x{n:04d}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extra_{n:04d}",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=50), nullable=False),
    )
    op.create_index("ix_extra_{n:04d}_name", "extra_{n:04d}", ["name"])


def downgrade() -> None:
    op.drop_index("ix_extra_{n:04d}_name", table_name="extra_{n:04d}")
    op.drop_table("extra_{n:04d}")
'''


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-migrations-"))
    envs: dict[Path, dict[str, str]] = {}
    try:
        short = _bake(args, workdir / "short")
        long = _bake(args, workdir / "long")
        _add_migrations(long, args.extra)
        envs = {short: _environment(args.database), long: _environment(args.database)}
        for project in (short, long):
            _step(f"uv sync in {project}")
            subprocess.run(["uv", "sync", "--quiet"], cwd=project, env=envs[project], check=True)
        results: dict[tuple[str, Path], list[float]] = {}
        for state, extra, rounds in (
            ("cold", ["--create-db"], args.cold_rounds),
            ("warm", [], args.rounds),
        ):
            for project in (short, long):  # one unmeasured run each: the cache is warm
                _one_test_run(project, envs[project], extra)
            for round_number in range(rounds):
                _step(f"{state} round {round_number + 1}/{rounds}")
                for project in (short, long):
                    seconds = _one_test_run(project, envs[project], extra)
                    results.setdefault((state, project), []).append(seconds)
        _report(args, results, short, long)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            if args.database == "postgresql":
                _drop_templates(list(envs.values()))
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--use-redis", choices=["y", "n"], default="n")
    parser.add_argument("--extra", type=int, default=200, help="extra migrations")
    parser.add_argument("--rounds", type=int, default=9, help="rounds with the cache warm")
    parser.add_argument("--cold-rounds", type=int, default=3, help="rounds rebuilding it")
    parser.add_argument("--template", type=Path, default=TEMPLATE_DIR)
    parser.add_argument("--keep", action="store_true", help="keep the baked projects")
    return parser.parse_args(argv)


def _step(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _bake(args: argparse.Namespace, output_dir: Path) -> Path:
    _step(f"baking into {output_dir}")
    answers = {"database": args.database, "use_redis": args.use_redis, "ci": "none"}
    return Path(
        cookiecutter(
            str(args.template), no_input=True, output_dir=str(output_dir), extra_context=answers
        )
    )


def _add_migrations(project: Path, count: int) -> None:
    versions = project / "migrations" / "versions"
    down = "0001"
    for n in range(1, count + 1):
        (versions / f"x{n:04d}_extra.py").write_text(EXTRA_MIGRATION.format(n=n, down=down))
        down = f"x{n:04d}"


def _environment(database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTEST_ADDOPTS"}}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    if database == "postgresql":
        # A name of its own per project: other runs on the server never collide with this.
        base = make_url(
            os.environ.get(
                "TEST_DATABASE_URL",
                "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/x_test?ssl=disable",
            )
        )
        name = f"bench_{uuid.uuid4().hex[:8]}_test"
        env["TEST_DATABASE_URL"] = base.set(database=name).render_as_string(hide_password=False)
    return env


def _one_test_run(project: Path, env: dict[str, str], extra: list[str]) -> float:
    command = ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider", ONE_TEST, *extra]
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0 or "1 passed" not in result.stdout:
        sys.stderr.write(result.stdout[-6000:] + result.stderr[-3000:])
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)} in {project}")
    return seconds


def _report(
    args: argparse.Namespace, results: dict[tuple[str, Path], list[float]], short: Path, long: Path
) -> None:
    """Median and fastest of each: on a shared machine other work only ever adds time."""
    long_label = f"{1 + args.extra} migrations"
    print(f"\none-test run (`uv run pytest <one test>`), wall clock, {args.database}")
    print(f"{'template':<16} {'1 migration':>12} {long_label:>16} {'ratio':>7}")
    for state, label in (("cold", "rebuilt"), ("warm", "cached")):
        for name, pick in (("median", statistics.median), ("fastest", min)):
            a, b = pick(results[(state, short)]), pick(results[(state, long)])
            print(f"{label + ', ' + name:<16} {a:>10.2f} s {b:>14.2f} s {b / a:>6.2f}x")
    for (state, project), seconds in results.items():
        runs = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"  {state} {project.parent.name:<6} {runs}")


def _drop_templates(envs: Sequence[dict[str, str]]) -> None:
    """What the two projects' runs keep between runs: their templates and spares."""
    for env in envs:
        name = make_url(env["TEST_DATABASE_URL"]).database
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc"]
        listed = subprocess.run(
            [*psql, f"SELECT datname FROM pg_database WHERE datname LIKE '{name}_%'"],
            capture_output=True,
            text=True,
            check=False,
        )
        for kept in listed.stdout.split():
            drop = f'DROP DATABASE IF EXISTS "{kept}" WITH (FORCE)'
            subprocess.run([*psql, drop], capture_output=True, check=False)


if __name__ == "__main__":
    sys.exit(main())
