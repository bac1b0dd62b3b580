"""The speed-only tricks in tests/speedups.py do what they say, and nothing more."""
{% if cookiecutter.database == "postgresql" %}
import asyncio
{%- endif %}
from collections.abc import Callable
{%- if cookiecutter.database == "postgresql" %}
from contextlib import AsyncExitStack
{%- endif %}
from typing import Any, cast

import pytest
from fastapi import FastAPI
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy import event, literal, select, text
{%- else %}
from sqlalchemy import event, literal, select
{%- endif %}
from sqlalchemy.engine import URL, Connection
from sqlalchemy.engine.default import DefaultExecutionContext
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy.exc import DBAPIError
{%- endif %}
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)
{%- else %}
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
{%- endif %}
from sqlalchemy.pool import NullPool
{% if cookiecutter.database == "postgresql" %}
from . import database, speedups
{%- else %}
from . import speedups
{%- endif %}

pytestmark = pytest.mark.skipif(not speedups.enabled(), reason="TEST_SPEEDUPS=0 turns them off")


async def _dialect_facts_of_a_new_engine(url: URL) -> dict[str, Any]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect():
            pass  # the first connection runs the dialect's initialize()
        remembered = speedups.FastTestDialect._remembered
        names = remembered[url.render_as_string(hide_password=True)]
        return {name: getattr(engine.dialect, name) for name in names}
    finally:
        await engine.dispose()


async def test_only_the_first_engine_asks_the_server(
    worker_database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    ask_the_server = cast(
        Callable[[speedups.ProjectDialect, Connection], None], speedups.ProjectDialect.initialize
    )

    def counting_initialize(self: speedups.ProjectDialect, connection: Connection) -> None:
        asked.append(type(self).__name__)
        ask_the_server(self, connection)

    monkeypatch.setattr(speedups.ProjectDialect, "initialize", counting_initialize)
    monkeypatch.setattr(speedups.FastTestDialect, "_remembered", {})

    first = await _dialect_facts_of_a_new_engine(worker_database_url)
    second = await _dialect_facts_of_a_new_engine(worker_database_url)

    assert asked == ["FastTestDialect"]
    assert second == first
    assert "server_version_info" in first
    assert "default_isolation_level" in first


async def test_the_apps_engine_uses_the_test_dialect(
    app: FastAPI, db_session: AsyncSession
) -> None:
    dialect = app.state.database.engine.dialect

    assert isinstance(dialect, speedups.FastTestDialect)
    assert dialect.server_version_info is not None
    assert dialect.default_schema_name is not None


async def _cache_use_of_first_statement(engine: AsyncEngine) -> str:
    """How the engine's compiled cache answered for its first statement."""
    used: list[str] = []

    def note(*args: Any) -> None:
        context = cast(DefaultExecutionContext, args[4])
        used.append(str(context.cache_hit))

    event.listen(engine.sync_engine, "after_cursor_execute", note)
    try:
        async with engine.connect() as connection:
            await connection.execute(select(literal(1).label("shared_cache_probe")))
    finally:
        await engine.dispose()
    return used[0]


@pytest.mark.skipif(
    not speedups.enabled("shared_compiled_cache"), reason="TEST_SPEEDUPS_WITHOUT turns it off"
)
async def test_a_new_engine_reuses_statements_compiled_by_an_earlier_one(
    worker_database_url: URL,
) -> None:
    await _cache_use_of_first_statement(create_async_engine(worker_database_url))
    reused = await _cache_use_of_first_statement(create_async_engine(worker_database_url))
    # Another configuration compiles differently, so it must not share the entry.
    other = await _cache_use_of_first_statement(
        create_async_engine(worker_database_url, label_length=12)
    )

    assert reused == "CacheStats.CACHE_HIT"
    assert other == "CacheStats.CACHE_MISS"


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
    assert speedups._is_plain(value) is plain


def test_memoized_properties_are_caches_and_plain_attributes_are_not() -> None:
    assert speedups._is_lazy_cache(speedups.ProjectDialect, "_type_memos")
    assert not speedups._is_lazy_cache(speedups.ProjectDialect, "server_version_info")
    assert not speedups._is_lazy_cache(speedups.ProjectDialect, "default_isolation_level")
{%- if cookiecutter.database == "postgresql" %}


async def test_the_test_database_runs_without_jit(db_session: AsyncSession) -> None:
    # Set on each worker database when it is cloned (speedups.database_settings).
    assert await db_session.scalar(text("SHOW jit")) == "off"


async def test_closing_a_connection_hangs_up_and_ends_its_server_session(
    worker_database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    hung_up: list[object] = []
    said_goodbye: list[object] = []

    def count_calls(driver_class: Any) -> None:
        terminate, close = driver_class.terminate, driver_class.close

        def counting_terminate(self: object) -> None:
            hung_up.append(self)
            terminate(self)

        async def counting_close(self: object, *args: Any, **kwargs: Any) -> None:
            said_goodbye.append(self)
            await close(self, *args, **kwargs)

        monkeypatch.setattr(driver_class, "terminate", counting_terminate)
        monkeypatch.setattr(driver_class, "close", counting_close)

    engine = create_async_engine(worker_database_url, poolclass=NullPool)
    async with engine.connect() as connection:
        server_pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        count_calls(type((await connection.get_raw_connection()).driver_connection))
    # NullPool closes a connection when it is returned: through do_close(), a hang-up
    # (SQLAlchemy 2.1's own terminate() would first wait for a polite close).
    assert len(hung_up) == 1
    assert said_goodbye == []
    if speedups.pooled_address(worker_database_url) is not None:
        await engine.dispose()
        return  # the pooler keeps the server session: the next test proves it is reset

    sessions_left = -1
    async with engine.connect() as observer:
        for _ in range(200):  # the server process exits within milliseconds
            sessions_left = await observer.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": server_pid}
            )
            if sessions_left == 0:
                break
            await asyncio.sleep(0.005)
    await engine.dispose()
    assert sessions_left == 0


@pytest.mark.skipif(not speedups.enabled("one_trip_ping"), reason="TEST_SPEEDUPS_WITHOUT")
async def test_a_ping_is_one_statement_outside_any_transaction(worker_database_url: URL) -> None:
    engine = create_async_engine(worker_database_url, pool_pre_ping=True)
    sent: list[str] = []
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        cast(Any, driver).add_query_logger(lambda record: sent.append(record.query))
    async with engine.connect() as connection:  # checked out again, so pinged first
        pinged = (await connection.get_raw_connection()).driver_connection
        in_transaction = cast(Any, driver).is_in_transaction()
    await engine.dispose()

    assert sent == ["SELECT 1"]  # the adapter's own ping: BEGIN, a prepared ";", ROLLBACK
    assert pinged is driver  # the ping passed: the pool kept the connection
    assert not in_transaction


async def test_a_ping_finds_a_dead_connection_and_the_pool_replaces_it(
    worker_database_url: URL,
) -> None:
    engine = create_async_engine(worker_database_url, pool_pre_ping=True)
    admin = create_async_engine(worker_database_url, poolclass=NullPool)
    async with engine.connect() as connection:
        server_pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    async with admin.connect() as killer:  # waits up to 5 s for the process to exit
        terminate = text("SELECT pg_terminate_backend(:pid, 5000)")
        await killer.execute(terminate, {"pid": server_pid})
    async with engine.connect() as connection:  # the ping fails: a new connection
        replacement_pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    await engine.dispose()
    await admin.dispose()

    assert replacement_pid not in (None, server_pid)


@pytest.mark.skipif(
    not speedups.enabled("one_trip_savepoints"), reason="TEST_SPEEDUPS_WITHOUT turns it off"
)
async def test_savepoints_in_an_open_transaction_are_not_prepared(
    worker_database_url: URL,
) -> None:
    engine = create_async_engine(worker_database_url, poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))  # the transaction is open from here on
        kept = await connection.begin_nested()
        await kept.commit()  # RELEASE SAVEPOINT
        undone = await connection.begin_nested()
        await undone.rollback()  # ROLLBACK TO SAVEPOINT
        prepared = await connection.scalar(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement ~ '^(SAVE|REL|ROLL)'")
        )
        selects = await connection.scalar(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT 1'")
        )
    await engine.dispose()

    assert selects == 1  # the usual way prepares (the probe sees asyncpg's statements)
    assert prepared == 0


async def test_a_failing_savepoint_statement_raises_sqlalchemys_error(
    worker_database_url: URL,
) -> None:
    engine = create_async_engine(worker_database_url, poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        with pytest.raises(DBAPIError, match="never_made") as raised:
            await connection.run_sync(
                lambda sync: sync.dialect.do_rollback_to_savepoint(sync, "never_made")
            )
    await engine.dispose()

    # With one-trip savepoints, the driver's own error is kept as the first failure.
    if speedups.enabled("one_trip_savepoints"):
        assert "never_made" in str(raised.value.__context__)


def test_a_pooler_that_does_not_answer_stops_the_run_with_instructions() -> None:
    url = database.configured_test_url()
    with pytest.raises(database.ProvisioningError, match="No PgBouncer answers at") as raised:
        speedups.check_pooler(url, "127.0.0.1", 1)  # port 1: nothing listens there
    assert "unset TEST_DATABASE_POOLER" in str(raised.value)


def test_a_pooler_address_must_be_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(speedups.POOLER_ENV, "pgbouncer")
    with pytest.raises(database.ProvisioningError, match="is not host:port"):
        speedups.configured_pooler()


# What one test can leave in its server session, each with a probe that counts it.
SESSION_STATE = {
    "advisory lock": (
        "SELECT pg_advisory_lock(424242)",
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
    ),
    "prepared statement": (
        "PREPARE leak_probe AS SELECT 1",
        "SELECT count(*) FROM pg_prepared_statements WHERE name = 'leak_probe'",
    ),
    "temporary table": (
        "CREATE TEMPORARY TABLE leak_probe (id integer)",
        "SELECT count(*) FROM pg_class WHERE relname = 'leak_probe' AND relpersistence = 't'",
    ),
    "SET value": (
        "SET work_mem = '7777kB'",
        "SELECT count(*) WHERE current_setting('work_mem') = '7777kB'",
    ),
    "LISTEN channel": (
        "LISTEN leak_probe",
        "SELECT count(*) FROM pg_listening_channels() AS channel WHERE channel = 'leak_probe'",
    ),
}


async def _session_state(connection: AsyncConnection) -> dict[str, int]:
    return {name: await connection.scalar(text(sql)) for name, (_, sql) in SESSION_STATE.items()}


@pytest.mark.skipif(
    speedups.configured_pooler() is None, reason="TEST_DATABASE_POOLER is not set: no pooler"
)
async def test_a_server_session_the_pooler_hands_back_carries_nothing_over(
    worker_database_url: URL,
) -> None:
    engine = create_async_engine(worker_database_url, poolclass=NullPool)
    async with engine.connect() as connection:
        server_pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        for leave, _ in SESSION_STATE.values():
            await connection.execute(text(leave))
        await connection.commit()
        left = await _session_state(connection)
    assert set(left.values()) == {1}, left  # each probe sees what it looks for

    # Wait for that server session: new connections are held open, so the pooler must
    # hand out another one each time, and it reuses the session once it is reset.
    found: dict[str, int] | None = None
    async with AsyncExitStack() as held:
        for _ in range(40):
            connection = await held.enter_async_context(engine.connect())
            if await connection.scalar(text("SELECT pg_backend_pid()")) == server_pid:
                found = await _session_state(connection)
                break
            await asyncio.sleep(0.01)
    await engine.dispose()

    assert found is not None, "the pooler never handed that server session out again"
    assert found == dict.fromkeys(SESSION_STATE, 0)
{%- endif %}
