"""polyfactory factories for the models, persisted into the test's own session.

Values that must be unique come from a process-wide counter, never from a constant
(`testuser@example.com` collides on the second use) and never from random choice (which
collides eventually and cannot be reproduced). Primary keys come from the database.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from polyfactory import Ignore, Use
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory, SQLAlchemyPersistenceMethod
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import Base, Item, User

ModelT = TypeVar("ModelT", bound=Base)
ModelT_co = TypeVar("ModelT_co", covariant=True)


class ModelFactory(Protocol[ModelT_co]):
    """What the factory fixtures give: `await user_factory(email=...)`."""

    async def __call__(self, **overrides: Any) -> ModelT_co: ...


_sequence = count(1)

# The password every factory user has, unless a test gives another.
DEFAULT_PASSWORD = "correct horse battery staple"


def unique_number() -> int:
    return next(_sequence)


class BaseFactory(Generic[ModelT], SQLAlchemyFactory[ModelT]):
    __is_base_factory__ = True
    # The database assigns primary keys; random ones would bypass its sequences.
    __set_primary_key__ = False
    # Related rows are passed explicitly (owner=...), never invented behind the test's back.
    __set_relationships__ = False
    __set_foreign_keys__ = False
    # FLUSH, not COMMIT: rows stay inside the test's transaction and are rolled back.
    __persistence_method__ = SQLAlchemyPersistenceMethod.FLUSH
    __async_session__: ClassVar[Any] = None
    __check_model__ = False


class UserFactory(BaseFactory[User]):
    __model__ = User

    email = Use(lambda: f"user{unique_number()}@example.com")
    full_name = Use(lambda: f"Test User {unique_number()}")
    is_active = True
    created_at = Ignore()


class ItemFactory(BaseFactory[Item]):
    __model__ = Item

    title = Use(lambda: f"Item {unique_number()}")
    description = Use(lambda: f"Description of item {unique_number()}")
    created_at = Ignore()


async def persist(session: AsyncSession, instance: ModelT) -> ModelT:
    """Add and flush into the test's session: the row gets its key and server defaults.

    The INSERT's RETURNING (eager_defaults) already loads what the server set, so only
    attributes the flush left expired are loaded again (polyfactory's own `create_async`
    refreshes every row: one more SELECT each).
    """
    session.add(instance)
    await session.flush()
    if expired := inspect(instance).expired_attributes:
        await session.refresh(instance, attribute_names=expired)
    return instance


@contextmanager
def bound_to(session: AsyncSession) -> Iterator[None]:
    """Factory classes called directly persist into `session` inside this block."""
    BaseFactory.__async_session__ = session
    try:
        yield
    finally:
        BaseFactory.__async_session__ = None
