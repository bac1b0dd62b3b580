from fastapi import APIRouter{% if cookiecutter.use_redis == "y" %}, Request{% endif %}, status

from ..db import SessionDep
{%- if cookiecutter.use_redis == "y" %}
from ..rate_limit import FixedWindowRateLimiter
{%- endif %}
from ..schemas import LoginRequest, Token, UserCreate, UserRead
from ..security import create_access_token
from ..services import users
from .deps import HasherDep{% if cookiecutter.use_redis == "y" %}, RedisDep{% endif %}, SettingsDep

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(body: UserCreate, session: SessionDep, hasher: HasherDep) -> UserRead:
    user = await users.register_user(
        session, hasher, email=body.email, password=body.password, full_name=body.full_name
    )
    return UserRead.model_validate(user)


@router.post("/login")
async def login(
    body: LoginRequest,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
{%- if cookiecutter.use_redis == "y" %}
    redis: RedisDep,
    request: Request,
{%- endif %}
) -> Token:
{%- if cookiecutter.use_redis == "y" %}
    limiter = FixedWindowRateLimiter(
        redis,
        key_prefix=settings.redis_key_prefix,
        limit=settings.login_rate_limit,
        window_seconds=settings.login_rate_window_seconds,
    )
    # Per client address and account: one attacker cannot lock everybody out.
    client_host = request.client.host if request.client else "unknown"
    await limiter.hit(f"login:{client_host}:{users.normalize_email(body.email)}")
{%- endif %}
    user = await users.authenticate(session, hasher, email=body.email, password=body.password)
    return Token(access_token=create_access_token(user.id, settings))
