"""The dialect that remembers what the server said (tests/dialects.py)."""

from collections.abc import Callable
from typing import Any, cast

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from . import dialects


async def _dialect_facts_of_a_new_engine(url: URL) -> dict[str, Any]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect():
            pass  # the first connection runs the dialect's initialize()
        remembered = dialects.RememberingDialect._remembered
        names = remembered[url.render_as_string(hide_password=True)]
        return {name: getattr(engine.dialect, name) for name in names}
    finally:
        await engine.dispose()


async def test_only_the_first_engine_asks_the_server(
    worker_database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    ask_the_server = cast(
        Callable[[dialects.ProjectDialect, Connection], None], dialects.ProjectDialect.initialize
    )

    def counting_initialize(self: dialects.ProjectDialect, connection: Connection) -> None:
        asked.append(type(self).__name__)
        ask_the_server(self, connection)

    monkeypatch.setattr(dialects.ProjectDialect, "initialize", counting_initialize)
    monkeypatch.setattr(dialects.RememberingDialect, "_remembered", {})

    first = await _dialect_facts_of_a_new_engine(worker_database_url)
    second = await _dialect_facts_of_a_new_engine(worker_database_url)

    assert asked == ["RememberingDialect"]
    assert second == first
    assert "server_version_info" in first
    assert "default_isolation_level" in first


async def test_the_apps_engine_uses_the_remembering_dialect(
    app: FastAPI, db_session: AsyncSession
) -> None:
    dialect = app.state.database.engine.dialect

    assert isinstance(dialect, dialects.RememberingDialect)
    assert dialect.server_version_info is not None
    assert dialect.default_schema_name is not None


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ((15, 4), True),
        ("READ COMMITTED", True),
        (None, True),
        (False, True),
        (object(), False),
        ((15, object()), False),
        ([15, 4], False),
    ],
)
def test_only_plain_values_are_remembered(value: object, plain: bool) -> None:
    assert dialects._is_plain(value) is plain


def test_memoized_properties_are_caches_and_plain_attributes_are_not() -> None:
    assert dialects._is_lazy_cache(dialects.ProjectDialect, "_type_memos")
    assert not dialects._is_lazy_cache(dialects.ProjectDialect, "server_version_info")
    assert not dialects._is_lazy_cache(dialects.ProjectDialect, "default_isolation_level")
