import pytest
from sqlalchemy import select

from legacy_app.container import container
from legacy_app.models import User
from legacy_app.security import pwd_context


@pytest.mark.anyio
async def test_password_hash_round_trip():
    hashed = pwd_context.hash("pw")
    assert pwd_context.verify("pw", hashed)
    assert not pwd_context.verify("other", hashed)


@pytest.mark.anyio
async def test_a_user_is_stored():
    async with container.sessionmaker() as session:
        existing = await session.scalar(select(User).where(User.email == "stored@example.com"))
        if existing is None:
            session.add(User(email="stored@example.com", hashed_password=pwd_context.hash("pw")))
            await session.commit()
        user = await session.scalar(select(User).where(User.email == "stored@example.com"))
    assert user is not None
