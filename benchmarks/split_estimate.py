"""Extrapolate the wall time of a large suite split into N CI jobs (pytest-split).

    uv run python benchmarks/split_estimate.py [--database postgresql|sqlite] [--use-redis y|n]
        [--tests 1000] [--target 5000] [--jobs 1,2,4] [--repeat R]

Bakes the template, installs it (`uv sync`), writes --tests `client` tests (one
database-backed request each, benchmarks/run.py's kind) and runs them serially and with
`-n 2`, keeping the fastest of R runs of each (other work on the machine only adds time).
From each run, as benchmarks/timing_plugin.py sees it:

- per-test cost = wall time of the test phase (first test start to session end) / tests;
- fixed cost = the rest of the run's wall time: interpreter start, imports, collection,
  session start (template database, migrations), worker start-up.

pytest-split gives each of N jobs an equal share of the stored durations, and each job runs
on its own runner against its own services, so one job of an N-way split of --target tests
takes about fixed + (target / N) * per-test: the column per N below. The test phase grows
linearly with the count (each test has its own app, connection and transaction).

Not included: what a CI job spends before pytest (checkout, `uv sync`, starting the
service containers); measure that in your CI and add it per job. This is a measurement,
not a test: nothing here asserts a target; read the numbers.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import run as bench


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="template-split-"))
    try:
        project = bench._bake(bench.TEMPLATE_DIR, workdir, args.database, args.use_redis)
        env = bench._environment(args.database)
        bench._step(f"uv sync in {project}")
        bench._run(["uv", "sync", "--quiet"], project, env)
        bench._write_tests(project, args.database, {"client": args.tests}, floor=False)
        bench._step("warm-up run (builds the template database once, fills OS caches)")
        bench._pytest(project, env)
        print(f"{args.database}, use_redis={args.use_redis}, {args.tests} client tests, ", end="")
        print(f"fastest of {args.repeat} run(s)")
        header = "".join(f"{f'{args.target} tests, N={n}':>20}" for n in args.jobs)
        print(f"{'in each job':<12}{'wall':>8}{'fixed':>8}{'per test':>10}{header}")
        for label, extra in (("serial", []), ("-n 2", ["-n", "2"])):
            wall, fixed, per_test = fastest_run(args.repeat, project, env, args.tests, extra)
            estimates = "".join(
                f"{f'{fixed + args.target / n * per_test:.1f} s':>20}" for n in args.jobs
            )
            print(f"{label:<12}{wall:>7.2f}s{fixed:>7.2f}s{per_test * 1000:>8.2f}ms{estimates}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def fastest_run(
    repeat: int, project: Path, env: dict[str, str], tests: int, extra: list[str]
) -> tuple[float, float, float]:
    """(wall, fixed, per-test) seconds of the fastest of `repeat` runs."""
    runs = []
    for number in range(repeat):
        bench._step(f"{tests} client tests {' '.join(extra) or 'serially'} ({number + 1})")
        wall, timings, _ = bench._pytest(project, env, extra)
        test_phase = timings["session"]["tests_seconds"]
        runs.append((wall, wall - test_phase, test_phase / tests))
    return min(runs)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--use-redis", choices=["y", "n"], default="y")
    parser.add_argument("--tests", type=int, default=1000, help="client tests measured (1000)")
    parser.add_argument("--target", type=int, default=5000, help="suite size to estimate (5000)")
    parser.add_argument(
        "--jobs",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 2, 4],
        help="CI job counts to estimate, comma-separated (1,2,4)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of R runs")
    args = parser.parse_args(argv)
    if args.tests < 4 or args.repeat < 1 or any(n < 1 for n in args.jobs):
        parser.error("--tests must be at least 4, --repeat and every --jobs at least 1")
    return args


if __name__ == "__main__":
    sys.exit(main())
