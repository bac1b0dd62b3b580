"""Runs share a server safely: the template is keyed by a fingerprint, and a later run
removes what dead runs left, never what a live run uses or a name it did not make."""

import secrets
import shutil
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.engine import URL

from . import database, project, runs, workers
from .fingerprint import fingerprint


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A copy of the project's migrations directory, free to edit."""
    config = database.alembic_config(database.configured_test_url())
    source = Path(ScriptDirectory.from_config(config).dir)
    return Path(shutil.copytree(source, tmp_path / "migrations"))


def test_the_fingerprint_changes_with_a_migration_a_model_or_the_server(
    migrations_copy: Path,
) -> None:
    dialect = database.configured_test_url().get_dialect()()
    before = fingerprint(migrations_copy, project.METADATA, dialect, "15.0")
    assert fingerprint(migrations_copy, project.METADATA, dialect, "15.0") == before

    changed_model = MetaData()
    for table in project.METADATA.tables.values():
        table.to_metadata(changed_model)
    Table("audit", changed_model, Column("id", Integer, primary_key=True))
    assert fingerprint(migrations_copy, changed_model, dialect, "15.0") != before

    assert fingerprint(migrations_copy, project.METADATA, dialect, "16.0") != before

    migration = next((migrations_copy / "versions").glob("*.py"))
    migration.write_text(migration.read_text(encoding="utf-8") + "\n# edited\n", "utf-8")
    assert fingerprint(migrations_copy, project.METADATA, dialect, "15.0") != before


def test_the_sweep_removes_dead_runs_databases_only(
    request: pytest.FixtureRequest, worker_database_url: URL
) -> None:
    url = database.configured_test_url()
    template = workers.template_url(request.config)
    dead = runs.worker_url(url, runs.new_run_id(), "gw0")  # no lease: as if killed
    not_ours = database.derived_url(url, f"keep_{secrets.token_hex(4)}")  # runs at once
    stale_template = runs.template_url(url, secrets.token_hex(6))  # of an older migration
    for made in (dead, not_ours, stale_template):
        database.clone_template(template, made)
    try:
        # Another run starting now: this run (whose lease is live) is a concurrent run.
        sweeper = runs.start_run(url)
        try:
            runs.sweep_orphans(sweeper, template_fingerprint(request))
        finally:
            runs.finish_run(sweeper)

        # Gone, by this sweep or by that of a run started meanwhile (which may still be
        # dropping the stale template: a sweep skips a template another one holds).
        assert not database.database_exists(dead)
        assert gone_soon(stale_template)
        # Kept: a live run's database, the template it uses, a name runs do not make.
        assert database.database_exists(worker_database_url)
        assert database.database_exists(template)
        assert database.database_exists(not_ours)
    finally:
        database.drop_database(not_ours)
        for made in (dead, stale_template):
            database.drop_database(made)


def template_fingerprint(request: pytest.FixtureRequest) -> str:
    return database.database_name(workers.template_url(request.config)).rsplit("_", 1)[-1]


def gone_soon(url: URL, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while database.database_exists(url):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
