"""What the migrated template database is built from, condensed into one short hash.

The template is kept between runs and rebuilt only when this fingerprint changes: the
migration files (every file under Alembic's script directory, and alembic.ini), the
models' metadata (the DDL SQLAlchemy would emit for every table and index, which covers
columns, types, constraints and indexes) and the database server's version.
"""

import hashlib
import os
from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from . import project

FINGERPRINT_LENGTH = 12


def migration_files(script_dir: Path) -> list[Path]:
    """alembic.ini and every source file of the migrations (env.py, versions/, ...)."""
    files = [
        path
        for path in script_dir.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    return [project.ALEMBIC_INI, *sorted(files)]


def metadata_ddl(metadata: MetaData, dialect: Dialect) -> str:
    """A stable rendering of the models: CREATE TABLE and CREATE INDEX, sorted by name."""
    statements = [
        str(CreateTable(table).compile(dialect=dialect))
        for table in sorted(metadata.tables.values(), key=lambda table: table.fullname)
    ]
    indexes = [index for table in metadata.tables.values() for index in table.indexes]
    statements += [
        str(CreateIndex(index).compile(dialect=dialect))
        for index in sorted(indexes, key=lambda index: str(index.name))
    ]
    return ";\n".join(statements)


def fingerprint(script_dir: Path, metadata: MetaData, dialect: Dialect, server_version: str) -> str:
    """`script_dir`: Alembic's script directory (where env.py and versions/ are)."""
    digest = hashlib.sha256()
    for path in migration_files(script_dir):
        name = os.path.relpath(path, project.PROJECT_ROOT)
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(metadata_ddl(metadata, dialect).encode() + b"\0")
    digest.update(server_version.encode())
    return digest.hexdigest()[:FINGERPRINT_LENGTH]
