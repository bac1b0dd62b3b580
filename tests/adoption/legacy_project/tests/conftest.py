import asyncio
import os

os.environ.setdefault("APP_ENV", "testing")

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from legacy_app.config import settings
from legacy_app.main import app
from legacy_app.models import Base
from legacy_app.security import pwd_context

TEST_DATABASE_URL = (
    f"postgresql+asyncpg://{settings.POSTGRES_USER}:{settings.POSTGRES_PASSWORD}"
    f"@{settings.POSTGRES_HOST}:{settings.POSTGRES_PORT}/{settings.POSTGRES_DB}"
)
SEED_EMAIL = "seed@example.com"
SEED_PASSWORD = "seed-password"

# Test data is committed through an engine of the tests' own.
test_engine = create_async_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def create_schema():
    async def create():
        async with test_engine.connect() as connection:
            await connection.run_sync(Base.metadata.create_all)

    asyncio.run(create())


@pytest.fixture
def client():
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def seed_user():
    async def seed():
        async with test_engine.connect() as connection:
            await connection.execute(text('DELETE FROM "user" WHERE email = :email'), {"email": SEED_EMAIL})
            return await connection.scalar(
                text('INSERT INTO "user" (email, full_name, hashed_password) VALUES (:email, :name, :hashed) RETURNING id'),
                {"email": SEED_EMAIL, "name": "Seed User", "hashed": pwd_context.hash(SEED_PASSWORD)},
            )

    return asyncio.run(seed())
