from fastapi import APIRouter{% if cookiecutter.use_redis == "y" %}, Request{% endif %}, status

from ..db import SessionDep
{%- if cookiecutter.use_redis == "y" %}
from ..rate_limit import FixedWindowRateLimiter
{%- endif %}
from ..schemas import LoginRequest, Token, UserCreate, UserRead
from ..security import create_access_token
from ..services import users
from .deps import HasherDep{% if cookiecutter.use_redis == "y" %}, RedisDep{% endif %}, SettingsDep
from .responses import problems

router = APIRouter(prefix="/auth", tags=["auth"], responses=problems(400, 422))


@router.post("/register", status_code=status.HTTP_201_CREATED, responses=problems(409))
async def register(body: UserCreate, session: SessionDep, hasher: HasherDep) -> UserRead:
    user = await users.register_user(
        session, hasher, email=body.email, password=body.password, full_name=body.full_name
    )
    return UserRead.model_validate(user)


@router.post("/login", responses=problems(401{% if cookiecutter.use_redis == "y" %}, 429, 503{% endif %}))
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
    # Two counters: per account stops guessing one password, per address stops trying one
    # password on many accounts. The address is the connecting one unless it is a trusted
    # proxy (settings.trusted_proxies), so a client cannot pick a new one per attempt.
    client_address = request.client.host if request.client else "unknown"
    counters = {
        f"login:address:{client_address}": settings.login_rate_limit_per_address,
        f"login:account:{users.normalize_email(body.email)}": settings.login_rate_limit_per_account,
    }
    for key, limit in counters.items():
        await FixedWindowRateLimiter(
            redis,
            key_prefix=settings.redis_key_prefix,
            limit=limit,
            window_seconds=settings.login_rate_window_seconds,
            timeout_seconds=settings.redis_timeout_seconds,
        ).hit(key)
{%- endif %}
    user = await users.authenticate(session, hasher, email=body.email, password=body.password)
    return Token(access_token=create_access_token(user.id, settings))
