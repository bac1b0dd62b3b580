"""Dependencies shared by the routers: settings, hasher, current user{% if cookiecutter.use_redis == "y" %}, Redis{% endif %}."""

from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
{%- if cookiecutter.use_redis == "y" %}
from redis.asyncio import Redis
{%- endif %}

from ..db import SessionDep
from ..errors import AuthenticationError
from ..models import User
from ..security import PasswordHasher, user_id_from_token
from ..services.users import get_active_user
from ..settings import Settings


# These are `async def` although they never await: FastAPI runs plain `def` dependencies
# in a worker thread, a needless thread hop per request (and a new thread per test loop).
async def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def get_password_hasher(request: Request) -> PasswordHasher:
    return cast(PasswordHasher, request.app.state.password_hasher)
{%- if cookiecutter.use_redis == "y" %}


async def get_redis(request: Request) -> Redis:
    redis: Redis | None = getattr(request.app.state, "redis", None)
    if redis is None:
        raise RuntimeError("The application's lifespan has not run: no Redis client.")
    return redis
{%- endif %}


SettingsDep = Annotated[Settings, Depends(get_settings)]
HasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
{%- if cookiecutter.use_redis == "y" %}
RedisDep = Annotated[Redis, Depends(get_redis)]
{%- endif %}

_bearer = HTTPBearer(auto_error=False)


async def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise AuthenticationError("A bearer token is required.")
    user_id = user_id_from_token(credentials.credentials, settings)
    return await get_active_user(session, user_id)


CurrentUser = Annotated[User, Depends(get_current_user)]
