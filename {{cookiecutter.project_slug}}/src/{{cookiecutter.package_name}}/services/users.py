from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import AuthenticationError, ConflictError
from ..models import User
from ..security import PasswordHasher


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    # Not returned directly: in a return statement mypy infers Any from SQLAlchemy 2.0's
    # overloads of scalar() (no-any-return under --strict); 2.1's stubs do not need this.
    user = await session.scalar(select(User).where(User.email == normalize_email(email)))
    return user


async def register_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    full_name: str | None = None,
) -> User:
    user = User(
        email=normalize_email(email),
        hashed_password=hasher.hash(password),
        full_name=full_name,
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        # The unique index decides, not a racy "SELECT then INSERT".
        await session.rollback()
        raise ConflictError("A user with this email already exists.") from exc
    return user


async def authenticate(
    session: AsyncSession, hasher: PasswordHasher, *, email: str, password: str
) -> User:
    user = await get_user_by_email(session, email)
    # The answer must not reveal which e-mails have accounts: one message for every case,
    # and one password verification of the same cost, also when there is no such user.
    hashed = user.hashed_password if user is not None else hasher.dummy_hash
    password_matches = hasher.verify(password, hashed)
    if user is None or not user.is_active or not password_matches:
        raise AuthenticationError("Incorrect email or password.")
    return user


async def get_active_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("The user of this token does not exist or is inactive.")
    return user
