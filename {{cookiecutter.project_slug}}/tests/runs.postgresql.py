"""Runs sharing one PostgreSQL server: a lease per run, the cached template, orphan sweep.

Every database a run creates is named after the configured test database and the run:

    <name>_template_<fingerprint>   the migrated template, kept between runs
    <name>_build_<run>              a template being built; renamed when complete
    <name>_<run>_<worker>[_...]     a worker's clone (`_main` in a plain run)

A run holds a session-level advisory lock (its lease) on the server's maintenance database
for as long as it lives; a crashed or killed run loses its connection, and with it the
lock. So a later run knows a database is an orphan when its run holds no lock, and drops
it; a live run's databases, and any database not named as above, are never touched.
Concurrent runs with the same fingerprint build the template once (an advisory lock
serializes the build) and never see it half built (it is built under another name).
"""

import asyncio
import re
import secrets
import threading
import time
import zlib
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from . import database, project
from .fingerprint import fingerprint

T = TypeVar("T")
LEASE_TIMEOUT_SECONDS = 10


def new_run_id() -> str:
    # 31 bits: it doubles as the key of the run's advisory lock (a signed 32-bit integer).
    return f"{secrets.randbits(31):08x}"


def worker_url(url: URL, run_id: str, worker: str) -> URL:
    return database.derived_url(url, f"{run_id}_{worker}")


def template_url(url: URL, template_fingerprint: str) -> URL:
    return database.derived_url(url, f"template_{template_fingerprint}")


def _build_url(url: URL, run_id: str) -> URL:
    return database.derived_url(url, f"build_{run_id}")


def _lock_space(url: URL, purpose: str) -> int:
    """The first key of an advisory lock: one space per test database name and purpose."""
    return zlib.crc32(f"{database.database_name(url)}:{purpose}".encode()) & 0x7FFFFFFF


def _fingerprint_key(template_fingerprint: str) -> int:
    return int(template_fingerprint[:7], 16)


class TemplateState(NamedTuple):
    url: URL
    fingerprint: str
    built_seconds: float | None  # None: reused from an earlier run


class RunLease:
    """This run's connection to the maintenance database, holding its advisory lock.

    It lives on a loop in a thread of its own, because pytest's session spans many event
    loops (one per test) and a connection cannot outlive its loop.
    """

    def __init__(self, url: URL, run_id: str) -> None:
        self.url = url
        self.run_id = run_id
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None
        self._call(self._open())

    def _call(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    async def _open(self) -> None:
        self._engine = create_async_engine(
            self.url.set(database="postgres"),
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "timeout": database.CONNECT_TIMEOUT_SECONDS,
                "server_settings": {"application_name": f"pytest run {self.run_id}"},
            },
        )
        self._connection = await self._engine.connect()
        await self._execute("SELECT pg_advisory_lock(:space, :key)", "run", int(self.run_id, 16))

    async def _execute(self, statement: str, purpose: str = "", key: int = 0) -> Any:
        assert self._connection is not None
        if not purpose:
            return await self._connection.execute(text(statement))
        space = _lock_space(self.url, purpose)
        return await self._connection.execute(text(statement), {"space": space, "key": key})

    def execute(self, statement: str, purpose: str = "", key: int = 0) -> Any:
        """Run one statement; `:space` and `:key` name an advisory lock of `purpose`."""
        return self._call(self._execute(statement, purpose, key))

    def rows(self, statement: str, purpose: str = "", key: int = 0) -> list[tuple[Any, ...]]:
        async def fetch() -> list[tuple[Any, ...]]:
            result = await self._execute(statement, purpose, key)
            return [tuple(row) for row in result]

        return self._call(fetch())

    def answers(self) -> bool:
        """The server answers on the lease's connection: a probe that opens nothing new."""
        try:
            self._call(self._execute("SELECT 1"), timeout=database.CONNECT_TIMEOUT_SECONDS)
        except Exception:  # closed, reset, timed out: all mean "no answer"
            return False
        return True

    def close(self) -> None:
        """End the lease; never raises (the server may be gone: the lock is gone with it)."""

        async def shut() -> None:
            try:
                if self._connection is not None:
                    await self._connection.close()
            finally:
                if self._engine is not None:
                    await self._engine.dispose()

        try:
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(LEASE_TIMEOUT_SECONDS)
        except Exception:  # noqa: S110 - a dead server ended the lease already
            pass
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(LEASE_TIMEOUT_SECONDS)
            if not self._thread.is_alive():
                self._loop.close()


def start_run(url: URL) -> RunLease:
    """Take a lease for a new run; fails fast when the server cannot be reached."""
    try:
        return RunLease(url, new_run_id())
    except Exception as exc:  # refused, timed out, bad credentials: all mean "not usable"
        raise database.ProvisioningError(
            f"Cannot reach PostgreSQL at {url.render_as_string(hide_password=True)}: "
            f"{type(exc).__name__}: {exc}\n"
            "Start the test services with `make up` (docker compose -f compose.test.yaml up "
            "-d --wait), or set TEST_DATABASE_URL to a reachable server."
        ) from exc


def current_fingerprint(lease: RunLease) -> str:
    (version,) = lease.rows("SHOW server_version_num")[0]
    script_dir = Path(ScriptDirectory.from_config(database.alembic_config(lease.url)).dir)
    return fingerprint(script_dir, project.METADATA, lease.url.get_dialect()(), str(version))


def _existing_databases(lease: RunLease) -> set[str]:
    return {name for (name,) in lease.rows("SELECT datname FROM pg_database")}


def ensure_template(lease: RunLease, force_rebuild: bool) -> TemplateState:
    """The migrated template for what the project is now: reused, or built and renamed
    into place under an advisory lock, so no run ever clones a half-built template."""
    template_fingerprint = current_fingerprint(lease)
    key = _fingerprint_key(template_fingerprint)
    template = template_url(lease.url, template_fingerprint)
    # Shared for the whole run: a template in use is never swept (see sweep_orphans).
    lease.execute("SELECT pg_advisory_lock_shared(:space, :key)", "template in use", key)
    lease.execute("SELECT pg_advisory_lock(:space, :key)", "template build", key)
    try:
        exists = database.database_name(template) in _existing_databases(lease)
        if exists and not force_rebuild:
            return TemplateState(template, template_fingerprint, None)
        started = time.perf_counter()
        build = _build_url(lease.url, lease.run_id)
        database.create_empty_database(build)
        database.migrate(build)
        lease.execute(_drop_statement(template))
        lease.execute(
            f"ALTER DATABASE {database.quote(database.database_name(build))} "
            f"RENAME TO {database.quote(database.database_name(template))}"
        )
        return TemplateState(template, template_fingerprint, time.perf_counter() - started)
    finally:
        lease.execute("SELECT pg_advisory_unlock(:space, :key)", "template build", key)


def _drop_statement(url: URL) -> str:
    return f"DROP DATABASE IF EXISTS {database.quote(database.database_name(url))} WITH (FORCE)"


# ── Spare worker databases: a speed-only trick (speedups.py, TEST_SPEEDUPS=0 turns it off) ──
# Cloning a template and dropping the clone cost time in proportion to the number of
# tables and indexes: with 200 migrations, about half a second per run here. A worker
# database left empty at the end (its leak check passed) is renamed to a spare of its
# template's fingerprint instead of dropped, and the next run takes it by renaming it back:
# a rename is a catalog update, and atomic, so two runs never get the same spare.
MAX_SPARES = 4


def _spare_name(url: URL, template_fingerprint: str) -> str:
    return f"{database.database_name(url)}_spare_{template_fingerprint}_{new_run_id()}"


def _spare_pattern(url: URL) -> re.Pattern[str]:
    name = re.escape(database.database_name(url))
    return re.compile(name + r"_spare_([0-9a-f]{12})_[0-9a-f]{8}")


def _rename(url: URL, old: str, new: str) -> None:
    database.run_admin(
        url, [f"ALTER DATABASE {database.quote(old)} RENAME TO {database.quote(new)}"]
    )


def claim_spare(url: URL, template_fingerprint: str, target: URL) -> bool:
    """Rename a spare of this template to `target`; False when there is none to take."""
    spares = _spare_pattern(url)
    for name in database.list_databases(url):
        spare = spares.fullmatch(name)
        if spare is None or spare[1] != template_fingerprint:
            continue
        try:
            _rename(url, name, database.database_name(target))
        except Exception:  # noqa: S112 - another run took it first, or it is being swept
            continue
        return True
    return False


def release_worker_database(url: URL, template_fingerprint: str, worker: URL) -> None:
    """Keep an empty worker database as a spare (sequences reset), or drop it."""
    try:
        database.empty_database(worker, project.METADATA)
        _rename(url, database.database_name(worker), _spare_name(url, template_fingerprint))
    except Exception:  # a session still closing, say: drop it instead
        database.drop_database(worker)


def _run_database_pattern(url: URL, run_id: str) -> re.Pattern[str]:
    """`<name>_build_<run>` or `<name>_<run>_<worker>`, with what tests derive from it
    (`..._gw0_migrations`); group 1 is the run."""
    name = re.escape(database.database_name(url))
    return re.compile(rf"{name}_(?:build_({run_id})|({run_id})_(?:main|gw\d+)(?:_[a-z0-9_]+)?)")


def _template_pattern(url: URL) -> re.Pattern[str]:
    # Not an f-string: the project files are rendered by Jinja, which owns double braces.
    return re.compile(re.escape(database.database_name(url)) + r"_template_([0-9a-f]{12})")


def _live_runs(lease: RunLease) -> set[str]:
    rows = lease.rows(
        "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
        "AND classid = :space AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        "run",
    )
    return {f"{int(objid):08x}" for (objid,) in rows}


def sweep_orphans(lease: RunLease, keep_fingerprint: str) -> list[str]:
    """Drop the databases of runs that died, and templates no live run uses any more.
    Only names this module makes are considered; returns what was dropped."""
    run_database = _run_database_pattern(lease.url, "[0-9a-f]{8}")
    template_database = _template_pattern(lease.url)
    spare_database = _spare_pattern(lease.url)
    spares_kept = 0
    # Databases first, then locks: a run locks before it creates anything, so a database
    # listed here whose run holds no lock afterwards belongs to a dead run.
    existing_databases = sorted(_existing_databases(lease))
    live = _live_runs(lease)
    dropped: list[str] = []
    for existing in existing_databases:
        run = run_database.fullmatch(existing)
        spare = spare_database.fullmatch(existing)
        dead_run = run is not None and (run.group(1) or run.group(2)) not in live
        extra_spare = spare is not None and (
            spare.group(1) != keep_fingerprint or spares_kept >= MAX_SPARES
        )
        if dead_run or extra_spare:
            lease.execute(_drop_statement(lease.url.set(database=existing)))
            dropped.append(existing)
        elif spare:
            spares_kept += 1
        elif (template := template_database.fullmatch(existing)) and (
            template.group(1) != keep_fingerprint
        ):
            key = _fingerprint_key(template.group(1))
            (unused,) = lease.rows(
                "SELECT pg_try_advisory_lock(:space, :key)", "template in use", key
            )[0]
            if unused:
                lease.execute(_drop_statement(lease.url.set(database=existing)))
                lease.execute("SELECT pg_advisory_unlock(:space, :key)", "template in use", key)
                dropped.append(existing)
    return dropped


def finish_run(lease: RunLease) -> None:
    """Drop what this run's workers left, then end the lease. Never raises: when the
    server is gone, the next run's sweep drops what is left."""
    try:
        run_database = _run_database_pattern(lease.url, lease.run_id)
        for existing in _existing_databases(lease):
            if run_database.fullmatch(existing):
                lease.execute(_drop_statement(lease.url.set(database=existing)))
    except Exception:  # noqa: S110 - unreachable server: left for the next sweep
        pass
    finally:
        lease.close()
