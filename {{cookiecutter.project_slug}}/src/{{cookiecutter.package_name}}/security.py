"""Password hashing (argon2, cost from settings) and bearer tokens (JWT, HS256)."""

from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from .errors import AuthenticationError
from .settings import Settings

JWT_ALGORITHM = "HS256"


def create_password_hasher(settings: Settings) -> PasswordHash:
    """Argon2id with the configured cost; tests configure a cheap one instead of patching."""
    return PasswordHash(
        (
            Argon2Hasher(
                time_cost=settings.password_hash_time_cost,
                memory_cost=settings.password_hash_memory_cost_kib,
                parallelism=settings.password_hash_parallelism,
            ),
        )
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
