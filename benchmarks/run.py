"""Measure the speed of a generated project's test infrastructure.

    uv run python benchmarks/run.py [--database postgresql|sqlite] [--tests N]
        [--use-redis y|n] [--bulk 500] [--repeat R] [--profile] [--template DIR] [--keep]

Bakes the template (cookiecutter's Python API, hooks included) into a temporary directory,
installs it (`uv sync`), writes synthetic tests of each kind into its tests/ and runs them
with the project's own conftest, coverage off. Prints, per kind, the median of
setup + call + teardown as pytest measures it (fixtures included), next to the floor
measured in the same run: one raw driver connect + query + close, and one raw ASGI request.
Then times the session start, 500 `client` tests serially and 500 with `-n 2`.

pytest runs from the project's own .venv (no `uv run` overhead in the timings), on a
database name of its own, so concurrent runs on the same server never collide. On a shared
machine use --repeat 3: each measurement keeps its fastest run (other work only adds time).
--profile adds a median timeline of one `client` and one `auth` test (trace_plugin.py).

This is a measurement, not a test: nothing here asserts a target; read the numbers.
Needs the same services as the generated suite (PostgreSQL; Redis when use_redis=y).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cpu
from cookiecutter.main import cookiecutter
from sqlalchemy.engine import make_url

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
BENCH_MODULE = "test_zz_benchmark.py"
FLOOR_SAMPLES = 60

# The kinds of synthetic tests; each is written N times, the index in the name.
KINDS: Mapping[str, str] = {
    # pytest's own cost per test, sync, no fixture.
    "bare": """
        def test_bench_bare_{i}() -> None:
            assert True
    """,
    # One factory row flushed into db_session: app, lifespan, engine, outer transaction.
    "db_session": """
        async def test_bench_db_session_{i}(user_factory) -> None:
            user = await user_factory()
            assert user.id is not None
    """,
    # One request that reads the database: the full per-test stack plus one route.
    "client": """
        async def test_bench_client_{i}(client) -> None:
            response = await client.get("/health")
            assert response.status_code == 200, response.text
    """,
    # An authenticated request (token for a factory user) that lists its items.
    "auth": """
        async def test_bench_auth_{i}(auth_client) -> None:
            response = await auth_client.get("/items")
            assert response.status_code == 200, response.text
    """,
}

# Measured inside the same pytest run, against the same worker database the tests use,
# outside pytest's timing: a sync test that runs its own loop (like each test gets one).
FLOOR_TEST = """
    import asyncio as _asyncio
    import json as _json
    import os as _os
    import time as _time

    import httpx as _httpx


    async def _trivial_asgi_app(scope, receive, send) -> None:
        await send({{"type": "http.response.start", "status": 200, "headers": []}})
        await send({{"type": "http.response.body", "body": b"ok"}})


    async def _asgi_once() -> None:
        transport = _httpx.ASGITransport(app=_trivial_asgi_app)
        async with _httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            (await client.get("/")).raise_for_status()

    {connect_once}

    async def _sample(probe, url, samples: int) -> list[float]:
        durations = []
        for _ in range(samples):
            started = _time.perf_counter()
            await probe(url)
            durations.append(_time.perf_counter() - started)
        return durations


    async def _sample_connects(url, samples: int) -> dict[str, list[float]]:
        parts = {{"connect": [], "open": [], "query": [], "close": []}}
        for _ in range(samples):
            for part, seconds in (await _connect_once(url)).items():
                parts[part].append(seconds)
            parts["connect"].append(parts["open"][-1] + parts["query"][-1] + parts["close"][-1])
        return parts


    def _measure_floor(url, hasher, index: int) -> None:
        floor = _asyncio.run(_sample_connects(url, {samples}))
        floor["asgi"] = _asyncio.run(_sample(lambda _: _asgi_once(), url, {samples}))
        floor["hash"] = []
        for _ in range({samples}):
            started = _time.perf_counter()
            hasher.hash("correct horse battery staple")
            floor["hash"].append(_time.perf_counter() - started)
        with open(_os.environ["BENCH_FLOOR_OUT"] + f".{{index}}", "w") as out:
            _json.dump(floor, out)


    def test_bench_floor_0(worker_database_url, app) -> None:
        _measure_floor(worker_database_url, app.state.password_hasher, 0)
"""

# Each returns the seconds of its three parts. The connect options are the tests' own
# (same URL, so the same ssl= choice): the floor is what the stack's own connect costs.
CONNECT_ONCE = {
    "postgresql": """
    import asyncpg as _asyncpg


    async def _connect_once(url) -> dict[str, float]:
        started = _time.perf_counter()
        connection = await _asyncpg.connect(
            host=url.host, port=url.port, user=url.username, password=url.password,
            database=url.database, ssl=url.query.get("ssl"),
        )
        opened = _time.perf_counter()
        assert await connection.fetchval("SELECT 1") == 1
        queried = _time.perf_counter()
        await connection.close()
        closed = _time.perf_counter()
        return {"open": opened - started, "query": queried - opened, "close": closed - queried}
    """,
    "sqlite": """
    import aiosqlite as _aiosqlite


    async def _connect_once(url) -> dict[str, float]:
        started = _time.perf_counter()
        connection = await _aiosqlite.connect(url.database)
        opened = _time.perf_counter()
        cursor = await connection.execute("SELECT 1")
        assert (await cursor.fetchone()) == (1,)
        await cursor.close()
        queried = _time.perf_counter()
        await connection.close()
        closed = _time.perf_counter()
        return {"open": opened - started, "query": queried - opened, "close": closed - queried}
    """,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="template-bench-"))
    try:
        project = _bake(args.template, workdir, args.database, args.use_redis)
        env = _environment(args.database)
        _step(f"uv sync in {project}")
        _run(["uv", "sync", "--quiet"], project, env)
        load_before = os.getloadavg()
        results = _measure(project, env, args)
        results["load"] = (load_before, os.getloadavg())
        _report(args, results)
    finally:
        if args.keep:
            print(f"\nKept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--use-redis", choices=["y", "n"], default="y")
    parser.add_argument("--tests", type=int, default=100, help="tests of each kind (default 100)")
    parser.add_argument(
        "--bulk", type=int, default=500, help="client tests in the serial/-n 2 runs (500)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each measurement R times and keep the fastest (shared machines; default 1)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print a median timeline of one client and one auth test (trace_plugin.py)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the baked project")
    parser.add_argument(
        "--template", type=Path, default=TEMPLATE_DIR, help="template to bake (default: this one)"
    )
    return parser.parse_args(argv)


def _step(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _bake(template: Path, workdir: Path, database: str, use_redis: str) -> Path:
    _step(f"baking {template} database={database} use_redis={use_redis}")
    out = cookiecutter(
        str(template),
        no_input=True,
        output_dir=str(workdir),
        extra_context={"database": database, "use_redis": use_redis, "ci": "none"},
    )
    return Path(out)


def _environment(database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["PYTHONPATH"] = str(BENCH_DIR)  # for `-p timing_plugin`, in xdist workers too
    if database == "postgresql":
        # A name of our own: other runs on the same server never collide with this one.
        # The generated suite's own default (ssl=disable included) unless one is set.
        base = make_url(
            os.environ.get(
                "TEST_DATABASE_URL",
                "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/x_test?ssl=disable",
            )
        )
        name = f"bench_{uuid.uuid4().hex[:8]}_test"
        env["TEST_DATABASE_URL"] = base.set(database=name).render_as_string(hide_password=False)
    return env


def _run(command: list[str], cwd: Path, env: Mapping[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-6000:] + result.stderr[-6000:])
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}")
    return elapsed


def _write_tests(project: Path, database: str, kinds: Mapping[str, int], floor: bool) -> None:
    parts = ['"""Synthetic tests written by the template\'s benchmarks/run.py."""']
    if floor:
        parts.append(
            textwrap.dedent(FLOOR_TEST).format(
                connect_once=textwrap.dedent(CONNECT_ONCE[database]).strip(),
                samples=FLOOR_SAMPLES,
            )
        )
    for kind, count in kinds.items():
        body = textwrap.dedent(KINDS[kind])
        parts.extend(body.format(i=i) for i in range(count))
    if floor:  # once more at the end: the floor is sampled before and after the tests
        parts.append(
            "def test_bench_floor_1(worker_database_url, app) -> None:\n"
            "    _measure_floor(worker_database_url, app.state.password_hasher, 1)\n"
        )
    (project / "tests" / BENCH_MODULE).write_text("\n\n".join(parts))


def _pytest(
    project: Path,
    env: Mapping[str, str],
    extra: Iterable[str] = (),
    server: cpu.ServerClock | None = None,
) -> tuple[float, dict[str, Any], dict[str, float]]:
    """Run the synthetic module; return wall-clock seconds, the plugin's timings and the
    CPU seconds of the pytest processes (and of the database server, given its clock)."""
    out = project / ".bench-timings.json"
    out.unlink(missing_ok=True)
    command = [
        str(project / ".venv" / "bin" / "python"),
        "-m",
        "pytest",
        f"tests/{BENCH_MODULE}",
        "-q",
        "--no-cov",
        "-p",
        "timing_plugin",
        "-p",
        "no:cacheprovider",
        *extra,
    ]
    pytest_before = cpu.children_cpu_seconds()
    server_before = server.seconds() if server else 0.0
    wall = _run(command, project, {**env, "BENCH_TIMINGS_OUT": str(out)})
    used = {"pytest": cpu.children_cpu_seconds() - pytest_before}
    if server:
        used["server"] = server.seconds() - server_before
    return wall, json.loads(out.read_text()), used


def _measure(project: Path, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    floor_out = project / ".bench-floor.json"
    env = {**env, "BENCH_FLOOR_OUT": str(floor_out)}

    _write_tests(project, args.database, dict.fromkeys(KINDS, args.tests), floor=True)
    for run in range(args.repeat):
        _step(f"{args.tests} tests of each kind, with the floor before and after ({run + 1})")
        kinds_wall, timings, _ = _pytest(project, env)
        kinds = _per_kind(timings["tests"])
        samples: dict[str, list[float]] = {
            key: [] for key in ("connect", "open", "query", "close", "asgi", "hash")
        }
        for i in (0, 1):
            sample = json.loads(Path(f"{floor_out}.{i}").read_text())
            for key, values in samples.items():
                values += sample[key]
        # Fastest run per kind (and per floor): other work on the machine only adds time.
        for kind, summary in kinds.items():
            best = results.setdefault("kinds", {}).get(kind)
            if best is None or summary["median"] < best["median"]:
                results["kinds"][kind] = summary
        for key, values in samples.items():
            name = f"floor_{key}"
            results[name] = min(results.get(name, float("inf")), statistics.median(values))
        results["kinds_wall"] = min(results.get("kinds_wall", float("inf")), kinds_wall)
        start = timings["session"]["sessionstart_seconds"]
        results["session_start"] = min(results.get("session_start", float("inf")), start)

    server = None
    if args.database == "postgresql":
        server = cpu.local_server_clock(make_url(env["TEST_DATABASE_URL"]))
    _write_tests(project, args.database, {"client": args.bulk}, floor=False)
    for run in range(args.repeat):
        _step(f"{args.bulk} client tests serially ({run + 1})")
        _keep_fastest(results, "serial", *_pytest(project, env, server=server))
        _step(f"{args.bulk} client tests with -n 2 ({run + 1})")
        _keep_fastest(results, "parallel", *_pytest(project, env, ["-n", "2"], server=server))

    if args.profile:
        _step(f"timeline of {args.tests} client and {args.tests} auth tests (trace_plugin)")
        _write_tests(project, args.database, {"client": args.tests, "auth": args.tests}, False)
        trace_out = project / ".bench-trace.json"
        trace_env = {**env, "BENCH_TRACE_KINDS": "client,auth", "BENCH_TRACE_OUT": str(trace_out)}
        _pytest(project, trace_env, ["-p", "trace_plugin"])
        results["timelines"] = json.loads(trace_out.read_text())
    return results


def _keep_fastest(
    results: dict[str, Any],
    run: str,
    wall: float,
    timings: Mapping[str, Any],
    used: dict[str, float],
) -> None:
    """Record a bulk run (`serial` or `parallel`) when it is the fastest so far."""
    if wall >= results.get(f"{run}_wall", float("inf")):
        return
    totals = [_total(t) for t in timings["tests"].values()]
    results[f"{run}_wall"] = wall
    results[f"{run}_tests"] = timings["session"]["tests_seconds"]
    results[f"{run}_sum"] = sum(totals)
    results[f"{run}_median"] = statistics.median(totals)
    results[f"{run}_cpu"] = used


def _total(durations: Mapping[str, float]) -> float:
    return sum(durations.get(when, 0.0) for when in ("setup", "call", "teardown"))


def _per_kind(tests: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    failed = [nodeid for nodeid, durations in tests.items() if durations.get("failed")]
    if failed:
        raise SystemExit(f"benchmark tests failed: {failed[:5]}")
    by_kind: dict[str, list[Mapping[str, float]]] = {}
    for nodeid, durations in tests.items():
        name = nodeid.rsplit("::", 1)[-1].removeprefix("test_bench_")
        kind = name.rsplit("_", 1)[0]
        if kind != "floor":
            by_kind.setdefault(kind, []).append(durations)
    summary = {}
    for kind, runs in by_kind.items():
        summary[kind] = {
            "count": len(runs),
            "median": statistics.median(_total(r) for r in runs),
            "setup": statistics.median(r.get("setup", 0.0) for r in runs),
            "call": statistics.median(r.get("call", 0.0) for r in runs),
            "teardown": statistics.median(r.get("teardown", 0.0) for r in runs),
            "p90": statistics.quantiles([_total(r) for r in runs], n=10)[-1],
            "total": sum(_total(r) for r in runs),
        }
    return summary


def _report(args: argparse.Namespace, r: Mapping[str, Any]) -> None:
    ms = 1000.0
    floor = r["floor_connect"]
    best = f", fastest of {args.repeat} runs" if args.repeat > 1 else ""
    driver = "asyncpg" if args.database == "postgresql" else "aiosqlite"
    print(
        f"\nGenerated-suite benchmark: database={args.database} use_redis={args.use_redis} "
        f"tests/kind={args.tests} cpus={os.cpu_count()} python={sys.version.split()[0]}"
    )
    before, after = r["load"]
    print(
        f"Load average (1/5/15 min) before: {before[0]:.2f}/{before[1]:.2f}/{before[2]:.2f}, "
        f"after: {after[0]:.2f}/{after[1]:.2f}/{after[2]:.2f} (other work on the machine skews it)"
    )
    print(f"\nFloor, measured in the same run (median of 2x{FLOOR_SAMPLES} samples{best}):")
    print(f"  raw {driver} connect + SELECT 1 + close   {floor * ms:8.2f} ms")
    print(
        f"    (connect {r['floor_open'] * ms:.2f} ms, SELECT 1 {r['floor_query'] * ms:.2f} ms, "
        f"close {r['floor_close'] * ms:.2f} ms; medians of each part)"
    )
    print(f"  raw ASGI request (httpx.ASGITransport)    {r['floor_asgi'] * ms:8.2f} ms")
    print(f"  one password hash, test settings (argon2) {r['floor_hash'] * ms:8.2f} ms")
    print(f"\nPer test, setup + call + teardown (pytest's durations, fixtures included{best}):")
    print(
        f"  {'kind':<11}{'n':>5}{'median':>10}{'p90':>9}{'setup':>9}{'call':>9}"
        f"{'teardown':>10}{'total':>10}{'/floor':>8}"
    )
    for kind in KINDS:
        k = r["kinds"][kind]
        print(
            f"  {kind:<11}{k['count']:>5}{k['median'] * ms:>8.2f}ms{k['p90'] * ms:>7.2f}ms"
            f"{k['setup'] * ms:>7.2f}ms{k['call'] * ms:>7.2f}ms{k['teardown'] * ms:>8.2f}ms"
            f"{k['total']:>9.2f}s{k['median'] / floor:>7.2f}x"
        )
    print(f"  (whole run, {4 * args.tests} tests + 2 floor tests: {r['kinds_wall']:.2f} s wall)")
    print(f"\nSession{best}:")
    print(f"  session start (template database + migrations)  {r['session_start']:6.2f} s")
    print(
        f"  {args.bulk} client tests serially     {r['serial_wall']:6.2f} s wall "
        f"(tests {r['serial_tests']:.2f} s, sum of per-test {r['serial_sum']:.2f} s)"
    )
    print(
        f"  {args.bulk} client tests with -n 2    {r['parallel_wall']:6.2f} s wall "
        f"(tests {r['parallel_tests']:.2f} s)"
    )
    _report_cpu(args, r)
    if "timelines" in r:
        _report_timelines(r["timelines"])
    client = r["kinds"]["client"]["median"]
    limit = 0.015 if args.database == "postgresql" else 0.005
    print("\nTargets (this machine; read them next to the load average):")
    _target(f"client median <= {limit * ms:.0f} ms", client <= limit, f"{client * ms:.2f} ms")
    if args.database == "postgresql":
        ratio = client / floor
        _target("client median <= 1.3x raw connect", ratio <= 1.3, f"{ratio:.2f}x")
    else:
        print(f"  [info] client median / raw connect: {client / floor:.2f}x (no target for SQLite)")
    _target("session start <= 3 s", r["session_start"] <= 3, f"{r['session_start']:.2f} s")
    if args.bulk == 500:
        _target(
            "500 client tests serially <= 12 s",
            r["serial_wall"] <= 12,
            f"{r['serial_wall']:.2f} s wall",
        )
    else:
        print("  [info] the serial target (12 s) is for --bulk 500")
    _target(
        "-n 2 faster than serial",
        r["parallel_wall"] < r["serial_wall"],
        f"{r['parallel_wall']:.2f} s vs {r['serial_wall']:.2f} s",
    )
    auth, hashing = r["kinds"]["auth"]["median"], r["floor_hash"]
    _target(
        "auth test not dominated by password hashing (one hash < 50% of its median)",
        hashing < 0.5 * auth,
        f"one hash {hashing * ms:.2f} ms = {hashing / auth:.1%} of {auth * ms:.2f} ms",
    )


def _report_cpu(args: argparse.Namespace, r: Mapping[str, Any]) -> None:
    """Where the bulk runs' CPU went, and how much faster two workers get through tests."""
    print(f"\nCPU of the {args.bulk}-test runs (pytest processes, database server):")
    for label, run in (("serial", "serial"), ("-n 2", "parallel")):
        used, wall = r[f"{run}_cpu"], r[f"{run}_wall"]
        server = used.get("server")
        server_text = f"{server:5.2f} s" if server is not None else "  n/a"
        busy = (used["pytest"] + (server or 0.0)) / wall
        print(
            f"  {label:<7} pytest {used['pytest']:5.2f} s, server {server_text} "
            f"over {wall:5.2f} s wall: {busy:.2f} cores busy on average"
        )
        if server is not None and run == "serial":
            print(
                f"          per test: {used['pytest'] / args.bulk * 1000:.1f} ms in pytest, "
                f"{server / args.bulk * 1000:.1f} ms in the server (averaged over the run)"
            )
    serial, parallel = r["serial_median"], r["parallel_median"]
    print(
        f"  per-test median: serial {serial * 1000:.2f} ms, under -n 2 {parallel * 1000:.2f} ms "
        f"({parallel / serial:.2f}x, as the workers and any\n  server share the cores): two "
        f"workers get through tests {2 * serial / parallel:.2f}x as fast as one, once each\n"
        "  has imported and collected the suite"
    )


def _report_timelines(timelines: Mapping[str, Any]) -> None:
    for kind, timeline in timelines.items():
        print(f"\nTimeline of one `{kind}` test (median of {timeline['tests']} tests, traced):")
        elapsed = 0.0
        for what, seconds in timeline["steps"]:
            if what == "TOTAL":
                print(f"  {seconds * 1000:7.2f} ms  total, tracing included")
                continue
            elapsed += seconds
            print(f"  {elapsed * 1000:7.2f} ms  +{seconds * 1000:5.2f}  {what}")


def _target(name: str, holds: bool, value: str) -> None:
    print(f"  [{'met' if holds else 'MISSED'}] {name}: {value}")


if __name__ == "__main__":
    raise SystemExit(main())
