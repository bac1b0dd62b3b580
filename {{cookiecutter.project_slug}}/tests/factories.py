"""polyfactory factories for the models, persisted into the test's own session.

Values that must be unique come from a process-wide counter, never from a constant
(`testuser@example.com` collides on the second use) and never from random choice (which
collides eventually and cannot be reproduced). Primary keys come from the database.
"""

from itertools import count
from typing import Any, ClassVar, Generic, TypeVar

from polyfactory import Ignore, Use
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory, SQLAlchemyPersistenceMethod

from {{ cookiecutter.package_name }}.models import Base, Item, User

ModelT = TypeVar("ModelT", bound=Base)

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
