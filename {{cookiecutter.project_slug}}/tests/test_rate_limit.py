import socket

import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from {{ cookiecutter.package_name }}.errors import RateLimitedError
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.rate_limit import FixedWindowRateLimiter
from {{ cookiecutter.package_name }}.settings import Settings

from .factories import DEFAULT_PASSWORD, ModelFactory

# Nothing listens on port 1: connections are refused at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


async def test_login_answers_429_past_the_limit(
    client: httpx.AsyncClient,
    user_factory: ModelFactory[User],
    test_settings: Settings,
    redis: Redis,
) -> None:
    user = await user_factory()
    wrong = {"email": user.email, "password": "not the password"}

    for _ in range(test_settings.login_rate_limit_per_account):
        assert (await client.post("/auth/login", json=wrong)).status_code == 401

    # Even the right password is refused now: the limit counts attempts, not failures.
    blocked = await client.post(
        "/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert blocked.status_code == 429
    assert blocked.headers["content-type"] == "application/problem+json"
    retry_after = int(blocked.headers["retry-after"])
    assert 1 <= retry_after <= test_settings.login_rate_window_seconds

    counters = {key async for key in redis.scan_iter(match=f"{test_settings.redis_key_prefix}*")}
    assert counters == {
        f"{test_settings.redis_key_prefix}ratelimit:login:address:127.0.0.1".encode(),
        f"{test_settings.redis_key_prefix}ratelimit:login:account:{user.email}".encode(),
    }


async def test_the_limit_is_per_account(
    client: httpx.AsyncClient, user_factory: ModelFactory[User], test_settings: Settings
) -> None:
    victim, other = await user_factory(), await user_factory()
    for _ in range(test_settings.login_rate_limit_per_account + 1):
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


async def test_one_address_trying_many_accounts_is_limited(
    client: httpx.AsyncClient, test_settings: Settings
) -> None:
    # Password spraying: one password, a new account per attempt.
    for number in range(test_settings.login_rate_limit_per_address):
        attempt = {"email": f"sprayed{number}@example.com", "password": "Winter2026!"}
        assert (await client.post("/auth/login", json=attempt)).status_code == 401

    blocked = await client.post(
        "/auth/login", json={"email": "one-more@example.com", "password": "Winter2026!"}
    )

    assert blocked.status_code == 429


async def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    client: httpx.AsyncClient, test_settings: Settings
) -> None:
    assert test_settings.trusted_proxies == []
    # A new forged address per attempt must not buy a new counter.
    for number in range(test_settings.login_rate_limit_per_address):
        await client.post(
            "/auth/login",
            json={"email": f"forged{number}@example.com", "password": "whatever"},
            headers={"X-Forwarded-For": f"203.0.113.{number}"},
        )

    blocked = await client.post(
        "/auth/login",
        json={"email": "forged-last@example.com", "password": "whatever"},
        headers={"X-Forwarded-For": "198.51.100.1"},
    )

    assert blocked.status_code == 429


async def test_a_trusted_proxy_names_the_client(test_settings: Settings, redis: Redis) -> None:
    # The test transport connects from 127.0.0.1, here the trusted proxy.
    settings = test_settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/auth/login",
                json={"email": "nobody@example.com", "password": "whatever"},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )

    assert response.status_code == 401
    counter = f"{settings.redis_key_prefix}ratelimit:login:address:203.0.113.7"
    assert await redis.get(counter) == b"1"


async def _login_with(settings: Settings) -> httpx.Response:
    """One login attempt on an app of its own, built with `settings`."""
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(
                "/auth/login", json={"email": "someone@example.com", "password": "whatever"}
            )


async def test_login_answers_503_when_redis_is_down(test_settings: Settings) -> None:
    response = await _login_with(test_settings.model_copy(update={"redis_url": UNREACHABLE_REDIS}))

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Service unavailable"


async def test_login_answers_503_when_redis_does_not_answer(test_settings: Settings) -> None:
    # A port that accepts connections and never replies: a hung server, not a refused one.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host, port = silent.getsockname()
        settings = test_settings.model_copy(
            update={"redis_url": f"redis://{host}:{port}/0", "redis_timeout_seconds": 0.2}
        )
        response = await _login_with(settings)

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
