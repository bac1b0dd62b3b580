"""The application's services, built once when this module is imported."""

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from legacy_app.config import settings


class Container:
    def __init__(self, config):
        url = (
            f"postgresql+asyncpg://{config.POSTGRES_USER}:{config.POSTGRES_PASSWORD}"
            f"@{config.POSTGRES_HOST}:{config.POSTGRES_PORT}/{config.POSTGRES_DB}"
        )
        # Tests run every request on a new event loop: no pooled connections there.
        self.engine = create_async_engine(url, poolclass=NullPool if config.TESTING else None)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)


container = Container(settings)
