import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Response
from sqlalchemy import text

from ..db import SessionDep
from ..schemas import HealthRead
{%- if cookiecutter.use_redis == "y" %}
from .deps import RedisDep
{%- endif %}

router = APIRouter(tags=["health"])


@router.get("/health", responses={503: {"model": HealthRead}})
async def health(
    response: Response,
    session: SessionDep,
{%- if cookiecutter.use_redis == "y" %}
    redis: RedisDep,
{%- endif %}
) -> HealthRead:
    """Answer 200 only when every backing service answers."""
    probes: dict[str, Awaitable[object]] = {
        "database": _ping_database(session),
{%- if cookiecutter.use_redis == "y" %}
        "redis": redis.ping(),
{%- endif %}
    }
    # Concurrently: the answer takes as long as the slowest service, not all of them.
    states = await asyncio.gather(*(_check(probe) for probe in probes.values()))
    checks = dict(zip(probes, states, strict=True))
    healthy = all(state == "ok" for state in checks.values())
    if not healthy:
        response.status_code = 503
    return HealthRead(status="ok" if healthy else "unavailable", checks=checks)


async def _ping_database(session: SessionDep) -> None:
    await session.execute(text("SELECT 1"))


async def _check(probe: Awaitable[object]) -> str:
    try:
        await probe
    except Exception as exc:  # any failure means "unhealthy"; the name says which
        return f"error: {type(exc).__name__}"
    return "ok"
