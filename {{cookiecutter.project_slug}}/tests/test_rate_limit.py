import httpx
import pytest
from redis.asyncio import Redis

from {{ cookiecutter.package_name }}.errors import RateLimitedError
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.rate_limit import FixedWindowRateLimiter
from {{ cookiecutter.package_name }}.settings import Settings

from .factories import DEFAULT_PASSWORD, ModelFactory


async def test_login_answers_429_past_the_limit(
    client: httpx.AsyncClient,
    user_factory: ModelFactory[User],
    test_settings: Settings,
    redis: Redis,
) -> None:
    user = await user_factory()
    wrong = {"email": user.email, "password": "not the password"}

    for _ in range(test_settings.login_rate_limit):
        assert (await client.post("/auth/login", json=wrong)).status_code == 401

    # Even the right password is refused now: the limit counts attempts, not failures.
    blocked = await client.post(
        "/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert blocked.status_code == 429
    assert blocked.headers["content-type"] == "application/problem+json"
    retry_after = int(blocked.headers["retry-after"])
    assert 1 <= retry_after <= test_settings.login_rate_window_seconds

    counters = [key async for key in redis.scan_iter(match=f"{test_settings.redis_key_prefix}*")]
    assert len(counters) == 1


async def test_the_limit_is_per_account(
    client: httpx.AsyncClient, user_factory: ModelFactory[User], test_settings: Settings
) -> None:
    victim, other = await user_factory(), await user_factory()
    for _ in range(test_settings.login_rate_limit + 1):
        await client.post("/auth/login", json={"email": victim.email, "password": "wrong"})

    response = await client.post(
        "/auth/login", json={"email": other.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 200


async def test_the_window_expires(redis: Redis, test_settings: Settings) -> None:
    limiter = FixedWindowRateLimiter(
        redis, key_prefix=test_settings.redis_key_prefix, limit=1, window_seconds=60
    )
    await limiter.hit("bucket")
    with pytest.raises(RateLimitedError):
        await limiter.hit("bucket")

    # Ending the window (what Redis does after window_seconds) lets attempts through again.
    await redis.delete(f"{test_settings.redis_key_prefix}ratelimit:bucket")
    await limiter.hit("bucket")
