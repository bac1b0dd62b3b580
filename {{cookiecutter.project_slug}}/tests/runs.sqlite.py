"""Runs sharing one directory of SQLite files: a lease per run, the cached template, sweep.

Every file a run creates is named after the configured test database and the run:

    <name>_template_<fingerprint>.db   the migrated template, kept between runs
    <name>_build_<run>.db              a template being built; renamed when complete
    <name>_<run>_<worker>[_...].db     a worker's copy (`_main` in a plain run)
    <name>_<run>.lease                 the run's lease: locked (flock) while the run lives

The operating system releases a dead process's lock, so a later run knows a file is an
orphan when its run's lease is unlocked, and deletes it; a live run's files, and any file
not named as above, are never touched. The template is built under another name and
renamed into place (atomic), under a lock file, so no run copies a half-built template.
"""

import fcntl
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NamedTuple

from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from . import database, project
from .fingerprint import fingerprint


def new_run_id() -> str:
    return f"{secrets.randbits(31):08x}"


def worker_url(url: URL, run_id: str, worker: str) -> URL:
    return database.derived_url(url, f"{run_id}_{worker}")


def template_url(url: URL, template_fingerprint: str) -> URL:
    return database.derived_url(url, f"template_{template_fingerprint}")


def _directory(url: URL) -> Path:
    return Path(url.database or "").parent


def _lease_path(url: URL, run_id: str) -> Path:
    return _directory(url) / f"{database.database_name(url)}_{run_id}.lease"


class TemplateState(NamedTuple):
    url: URL
    fingerprint: str
    built_seconds: float | None  # None: reused from an earlier run


class RunLease:
    """This run's lease file, locked for as long as the process lives. It records the
    template fingerprint the run uses, so no other run deletes that template."""

    def __init__(self, url: URL, run_id: str) -> None:
        self.url = url
        self.run_id = run_id
        path = _lease_path(url, run_id)
        # Locked before it gets its real name: a sweep never sees it unlocked.
        unnamed = path.with_suffix(".new")
        self._file: IO[str] = unnamed.open("w", encoding="utf-8")
        fcntl.flock(self._file, fcntl.LOCK_EX)
        unnamed.rename(path)

    def record(self, template_fingerprint: str) -> None:
        self._file.write(template_fingerprint)
        self._file.flush()

    def answers(self) -> bool:
        """SQLite has no server: the lease's directory is still there."""
        return _directory(self.url).is_dir()

    def close(self) -> None:
        _lease_path(self.url, self.run_id).unlink(missing_ok=True)
        self._file.close()


def start_run(url: URL) -> RunLease:
    database.check_server(url)
    return RunLease(url, new_run_id())


def current_fingerprint(url: URL) -> str:
    script_dir = Path(ScriptDirectory.from_config(database.alembic_config(url)).dir)
    return fingerprint(script_dir, project.METADATA, url.get_dialect()(), sqlite3.sqlite_version)


def ensure_template(lease: RunLease, force_rebuild: bool) -> TemplateState:
    """The migrated template for what the project is now: reused, or built and renamed
    into place while holding the directory's lock file."""
    template_fingerprint = current_fingerprint(lease.url)
    lease.record(template_fingerprint)
    template = template_url(lease.url, template_fingerprint)
    template_path = Path(template.database or "")
    with _template_lock(lease.url):
        if template_path.exists() and not force_rebuild:
            return TemplateState(template, template_fingerprint, None)
        started = time.perf_counter()
        build = database.derived_url(lease.url, f"build_{lease.run_id}")
        database.create_empty_database(build)
        database.migrate(build)
        os.replace(build.database or "", template_path)
        return TemplateState(template, template_fingerprint, time.perf_counter() - started)


@contextmanager
def _template_lock(url: URL) -> Iterator[None]:
    """One process at a time builds, or deletes, templates in the directory."""
    with (_directory(url) / f"{database.database_name(url)}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def claim_spare(url: URL, template_fingerprint: str, target: URL) -> bool:
    """Copying a template file costs milliseconds: no spare databases with SQLite."""
    return False


def release_worker_database(url: URL, template_fingerprint: str, worker: URL) -> None:
    database.drop_database(worker)


def _lease_holder(path: Path) -> str | None:
    """The fingerprint a live run's lease records, or None when its run is dead."""
    try:
        with path.open("r+", encoding="utf-8") as lease:
            try:
                fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return lease.read()
            return None
    except FileNotFoundError:  # its run ended meanwhile
        return None


def _run_file_pattern(url: URL, run_id: str) -> re.Pattern[str]:
    name = re.escape(database.database_name(url))
    worker = r"(?:main|gw\d+)(?:_[a-z0-9_]+)?"
    return re.compile(
        rf"{name}_(?:build_({run_id})\.db|({run_id})_{worker}\.db|({run_id})\.lease)"
        r"(?:-wal|-shm|-journal)?"
    )


def sweep_orphans(lease: RunLease, keep_fingerprint: str) -> list[str]:
    """Delete the files of runs that died, and templates no live run uses any more.
    Only names this module makes are considered; returns what was deleted."""
    directory = _directory(lease.url)
    run_file = _run_file_pattern(lease.url, "[0-9a-f]{8}")
    # Not an f-string: the project files are rendered by Jinja, which owns double braces.
    name = re.escape(database.database_name(lease.url))
    template_file = re.compile(name + r"_template_([0-9a-f]{12})\.db")
    deleted: list[str] = []
    # Under the lock ensure_template holds: no run records a template it is about to use
    # while this decides which templates are unused.
    with _template_lock(lease.url):
        # Files first, then leases: a run locks its lease before it makes any file, so a
        # file listed here whose lease is unlocked afterwards belongs to a dead run.
        files = sorted(directory.iterdir())
        leases = {
            match.group(3): _lease_holder(path)
            for path in directory.glob("*.lease")
            if (match := run_file.fullmatch(path.name))
        }
        in_use = {keep_fingerprint, *(fp for fp in leases.values() if fp is not None)}
        for path in files:
            run = run_file.fullmatch(path.name)
            template = template_file.fullmatch(path.name)
            run_id = run and (run.group(1) or run.group(2) or run.group(3))
            if (run_id and leases.get(run_id) is None) or (template and template[1] not in in_use):
                path.unlink(missing_ok=True)
                deleted.append(path.name)
    return deleted


def finish_run(lease: RunLease) -> None:
    """Delete what this run's workers left, then end the lease. Never raises."""
    try:
        run_file = _run_file_pattern(lease.url, lease.run_id)
        for path in _directory(lease.url).iterdir():
            if run_file.fullmatch(path.name) and not path.name.endswith(".lease"):
                path.unlink(missing_ok=True)
    except OSError:
        pass  # the directory went away: nothing left to delete
    finally:
        lease.close()
