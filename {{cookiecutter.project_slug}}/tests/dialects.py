"""Ask the database about itself once per test process, not once per test.

On the first connection of every new engine, SQLAlchemy's dialect runs `initialize()`:
{%- if cookiecutter.database == "postgresql" %}
four queries (server version, default schema, default isolation level and
standard_conforming_strings), each prepared and executed inside a transaction: about
ten round trips, 1 to 1.5 ms.
{%- else %}
a PRAGMA for the default isolation level, a hop to aiosqlite's thread and back.
{%- endif %}
Each test builds its app and so its engine anew, so every test paid for it. The answers
cannot change while the suite runs, and they are plain values (nothing tied to a
connection or an event loop), so the dialect below remembers what `initialize()` set on
the first engine for a database URL and sets the same on every later one. (Engines on one
URL whose connect arguments change those answers would need URLs of their own.)

`register()` makes SQLAlchemy load it for the project's driver in this process only (the
app's code and URLs stay as they are); conftest.py calls it at import, in every xdist
worker too.
"""

import inspect
from collections.abc import Callable
from typing import Any, ClassVar, cast

from sqlalchemy.dialects import registry
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
{%- else %}
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
{%- endif %}
from sqlalchemy.engine import Connection
{% if cookiecutter.database == "postgresql" %}
ProjectDialect = PGDialect_asyncpg
DRIVER = "postgresql.asyncpg"
{%- else %}
ProjectDialect = SQLiteDialect_aiosqlite
DRIVER = "sqlite.aiosqlite"
{%- endif %}
# What may be remembered: values that carry no connection, loop or other live state.
_PLAIN_TYPES = (bool, int, float, str, type(None))
_MISSING = object()


class RememberingDialect(ProjectDialect):
    """The project's dialect, with `initialize()` answered from memory after the first time."""

    supports_statement_cache = True  # a subclass must say so, or SQLAlchemy stops caching
    _remembered: ClassVar[dict[str, dict[str, Any]]] = {}

    def initialize(self, connection: Connection) -> None:
        url = connection.engine.url.render_as_string(hide_password=True)
        facts = self._remembered.get(url)
        if facts is not None:
            vars(self).update(facts)
            return
        before = dict(vars(self))
        # cast: some dialects' initialize() carry no annotations.
        ask_the_server = cast(Callable[[Connection], None], super().initialize)
        ask_the_server(connection)
        learned = {
            name: value
            for name, value in vars(self).items()
            if before.get(name, _MISSING) is not value
        }
        # A lazily computed cache (a memoized property, such as SQLAlchemy's type memos)
        # is each dialect's own and refills itself; anything else that is not a plain
        # value might be live state, and then nothing is remembered.
        caches = {name for name in learned if _is_lazy_cache(type(self), name)}
        facts = {name: value for name, value in learned.items() if name not in caches}
        if all(_is_plain(value) for value in facts.values()):
            self._remembered[url] = facts


def _is_plain(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_is_plain(item) for item in value)
    return isinstance(value, _PLAIN_TYPES)


def _is_lazy_cache(cls: type, name: str) -> bool:
    """The class computes this attribute on first use (a descriptor that fills it in)."""
    return hasattr(inspect.getattr_static(cls, name, None), "__get__")


def register() -> None:
    registry.register(DRIVER, __name__, RememberingDialect.__name__)
