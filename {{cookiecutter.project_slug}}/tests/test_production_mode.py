"""ENVIRONMENT=production: no interactive docs or schema, security headers, CORS by setting."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.middleware import SECURITY_HEADERS
from {{ cookiecutter.package_name }}.settings import Settings

DOC_ROUTES = ["/docs", "/redoc", "/openapi.json"]


@asynccontextmanager
async def serving(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a new app built from `settings` with `changes`, its lifespan running."""
    app = create_app(settings.model_copy(update=changes))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.mark.parametrize("path", DOC_ROUTES)
async def test_outside_production_docs_and_schema_are_served(
    client: httpx.AsyncClient, path: str
) -> None:
    assert (await client.get(path)).status_code == 200


async def test_production_serves_no_docs_and_no_schema(test_settings: Settings) -> None:
    async with serving(test_settings, environment="production") as client:
        statuses = [(await client.get(path)).status_code for path in DOC_ROUTES]

    assert statuses == [404, 404, 404]


@pytest.mark.parametrize(
    ("setting", "served"),
    [
        # The docs pages load the schema, so turning one on serves the schema too.
        ("docs_enabled", ["/docs", "/openapi.json"]),
        ("redoc_enabled", ["/redoc", "/openapi.json"]),
        ("openapi_enabled", ["/openapi.json"]),
    ],
)
async def test_each_can_be_turned_back_on_in_production(
    test_settings: Settings, setting: str, served: list[str]
) -> None:
    async with serving(test_settings, environment="production", **{setting: True}) as client:
        statuses = {path: (await client.get(path)).status_code for path in DOC_ROUTES}

    assert statuses == {path: 200 if path in served else 404 for path in DOC_ROUTES}


@pytest.mark.parametrize("setting", ["docs_enabled", "redoc_enabled", "openapi_enabled"])
async def test_each_can_be_turned_off_elsewhere(test_settings: Settings, setting: str) -> None:
    path = {"docs_enabled": "/docs", "redoc_enabled": "/redoc"}.get(setting, "/openapi.json")
    async with serving(test_settings, **{setting: False}) as client:
        assert (await client.get(path)).status_code == 404


async def test_production_adds_security_headers_to_every_answer(test_settings: Settings) -> None:
    async with serving(test_settings, environment="production") as client:
        answers = [
            await client.get("/users/me"),  # 401, from a handler
            await client.get("/no-such-route"),  # 404, from the router
            await client.post("/items", content=b"x" * (test_settings.max_request_body_bytes + 1)),
        ]

    assert [answer.status_code for answer in answers] == [401, 404, 413]
    for answer in answers:
        assert {name: answer.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


async def test_security_headers_are_off_outside_production_unless_asked_for(
    client: httpx.AsyncClient, test_settings: Settings
) -> None:
    plain = await client.get("/users/me")
    async with serving(test_settings, security_headers_enabled=True) as forced:
        with_headers = await forced.get("/users/me")

    assert not set(SECURITY_HEADERS) & set(plain.headers)
    assert with_headers.headers["x-content-type-options"] == "nosniff"


async def test_cors_allows_no_origin_by_default(
    client: httpx.AsyncClient, test_settings: Settings
) -> None:
    assert test_settings.cors_origins == []

    preflight = await client.options(
        "/items",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )

    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_allows_the_configured_origins_only(test_settings: Settings) -> None:
    preflight_headers = {"Access-Control-Request-Method": "POST"}
    async with serving(test_settings, cors_origins=["https://app.example.com"]) as client:
        allowed = await client.options(
            "/items", headers={"Origin": "https://app.example.com", **preflight_headers}
        )
        refused = await client.options(
            "/items", headers={"Origin": "https://evil.example.com", **preflight_headers}
        )

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in refused.headers
