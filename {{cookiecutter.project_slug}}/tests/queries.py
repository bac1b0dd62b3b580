"""Counting the SQL statements a block of code runs: catch N+1 queries in a route."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# Transaction control (some of it added by the test harness's savepoints) is not a query.
_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")

QueryCounter = Callable[[int], AbstractContextManager[list[str]]]


def query_counter(engine: AsyncEngine) -> QueryCounter:
    """`with counter(2): ...` fails when the block runs more statements on `engine`."""

    @contextmanager
    def at_most(limit: int) -> Iterator[list[str]]:
        statements: list[str] = []

        def record(*args: Any) -> None:
            statement: str = args[2]
            if not statement.lstrip().upper().startswith(_TRANSACTION_CONTROL):
                statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        assert len(statements) <= limit, (
            f"{len(statements)} queries, at most {limit} expected:\n" + "\n".join(statements)
        )

    return at_most
