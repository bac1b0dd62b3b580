{% if cookiecutter.database == "sqlite" -%}
import asyncio
import threading

{% endif -%}
import httpx
from asgi_lifespan import LifespanManager

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

# Nothing listens on port 1: connections are refused at once, no waiting for a timeout.
{%- if cookiecutter.database == "postgresql" %}
UNREACHABLE_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing_test"
{%- else %}
UNREACHABLE_DATABASE = "sqlite+aiosqlite:////nonexistent-directory/nothing_test.db"
{%- endif %}
{%- if cookiecutter.use_redis == "y" %}
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
{%- endif %}


async def test_health_reports_every_service_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok"{% if cookiecutter.use_redis == "y" %}, "redis": "ok"{% endif %}},
    }


async def _health_with(settings: Settings) -> httpx.Response:
{%- if cookiecutter.database == "sqlite" %}
    threads_before = set(threading.enumerate())
{%- endif %}
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/health")
{%- if cookiecutter.database == "sqlite" %}
    # After a failed connect, aiosqlite stops its worker thread without waiting for it; the
    # thread then reports to this test's loop. Wait for it while the loop still runs, or
    # it finds the loop closed and fails whichever test runs next.
    for thread in set(threading.enumerate()) - threads_before:
        await asyncio.to_thread(thread.join, 5)
{%- endif %}
    return response


async def test_health_is_unavailable_without_the_database(test_settings: Settings) -> None:
    settings = test_settings.model_copy(update={"database_url": UNREACHABLE_DATABASE})

    response = await _health_with(settings)

    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error: ")
{%- if cookiecutter.use_redis == "y" %}


async def test_health_is_unavailable_without_redis(test_settings: Settings) -> None:
    settings = test_settings.model_copy(update={"redis_url": UNREACHABLE_REDIS})

    response = await _health_with(settings)

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "error: ConnectionError"}
{%- endif %}
