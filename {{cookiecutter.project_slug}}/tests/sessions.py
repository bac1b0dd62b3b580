"""Sessions on the test's own connection: what `db_session` and the routes it serves share.

SQLAlchemy's recipe "joining a session into an external transaction": the test holds a
connection with an open transaction; every session on it is made with
`join_transaction_mode="create_savepoint"`, so a session's commit() or rollback() acts on
a SAVEPOINT inside that transaction, and the test's final rollback undoes everything.
"""

from collections.abc import AsyncIterator, Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker


class ConcurrentRequestsError(RuntimeError):
    """Two requests used the test's one connection at the same time."""


CONCURRENT_REQUESTS = (
    "Two requests ran at once on this test's single connection: a connection runs one "
    "statement at a time, and their savepoints would interleave. Mark the test "
    "@pytest.mark.committing to give each request a connection of its own (real commits, "
    "tables emptied afterwards), or send the requests one after the other."
)


def sessionmaker_on(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


def sessions_on(connection: AsyncConnection) -> Callable[[], AsyncIterator[AsyncSession]]:
    """A replacement for the app's session dependency: each request gets a session on
    `connection`; a second request while one is still in flight fails at once, by name."""
    sessionmaker = sessionmaker_on(connection)
    in_flight = False

    async def session_on_test_connection() -> AsyncIterator[AsyncSession]:
        nonlocal in_flight
        if in_flight:
            raise ConcurrentRequestsError(CONCURRENT_REQUESTS)
        in_flight = True
        try:
            async with sessionmaker() as session:
                yield session
        finally:
            in_flight = False

    return session_on_test_connection
