import jwt
from fastapi import Depends, HTTPException
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select

from legacy_app.database import get_session
from legacy_app.models import User
from legacy_app.models.token import TokenBlacklist
from legacy_app.security import ALGORITHM, SECRET_KEY

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login")


async def get_current_user(token=Depends(oauth2_scheme), session=Depends(get_session)):
    try:
        claims = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
    except jwt.PyJWTError:
        raise HTTPException(status_code=401, detail="Invalid token") from None
    revoked = await session.scalar(select(TokenBlacklist).where(TokenBlacklist.jti == claims.get("jti")))
    user = await session.get(User, int(claims["sub"]))
    if revoked is not None or user is None:
        raise HTTPException(status_code=401, detail="Invalid token")
    return user
