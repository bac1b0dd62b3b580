"""Password hashing (argon2, cost from settings) and bearer tokens (JWT, HS256)."""

import secrets
from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from .errors import AuthenticationError
from .settings import Settings

JWT_ALGORITHM = "HS256"


class PasswordHasher:
    """Argon2id with the configured cost, and a hash of that same cost that matches nothing.

    Logging in as an unknown e-mail verifies against `dummy_hash`: it costs as much as a
    wrong password for a real account, so the answer's timing does not reveal which
    e-mails have accounts.
    """

    def __init__(self, *, time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
                ),
            )
        )
        self.dummy_hash = self.hash(secrets.token_urlsafe(32))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password: str, hashed: str) -> bool:
        return self._hasher.verify(password, hashed)


def create_password_hasher(settings: Settings) -> PasswordHasher:
    """The hasher for these settings; tests configure a cheap cost instead of patching."""
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost_kib=settings.password_hash_memory_cost_kib,
        parallelism=settings.password_hash_parallelism,
    )


def create_access_token(user_id: int, settings: Settings) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_expire_minutes),
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), JWT_ALGORITHM)


def user_id_from_token(token: str, settings: Settings) -> int:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
        return int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise AuthenticationError("The access token is invalid or has expired.") from exc
