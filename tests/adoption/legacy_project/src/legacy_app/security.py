import hashlib
import hmac
import os
import uuid
from datetime import UTC, datetime, timedelta

import jwt

from legacy_app.config import settings

SECRET_KEY = settings.SECRET_KEY
ALGORITHM = "HS256"


class PasswordContext:
    """passlib's CryptContext, reduced to what this app uses: PBKDF2 with fixed rounds."""

    def __init__(self, rounds):
        self.rounds = rounds

    def hash(self, password):
        salt = os.urandom(16)
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, self.rounds)
        return f"{self.rounds}${salt.hex()}${digest.hex()}"

    def verify(self, password, hashed):
        rounds, salt, digest = hashed.split("$")
        candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds))
        return hmac.compare_digest(candidate.hex(), digest)


pwd_context = PasswordContext(rounds=200_000)


def create_access_token(user_id):
    expires = datetime.now(UTC) + timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    claims = {"sub": str(user_id), "jti": uuid.uuid4().hex, "exp": expires}
    return jwt.encode(claims, SECRET_KEY, algorithm=ALGORITHM)


def decode_token(token):
    return jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
