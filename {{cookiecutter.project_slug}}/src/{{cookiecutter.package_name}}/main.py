"""The application factory.

Run with: uvicorn --factory {{ cookiecutter.package_name }}.main:create_app
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
{%- if cookiecutter.use_redis == "y" %}
from redis.asyncio import Redis
{%- endif %}
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .api import auth, health, items, users
from .api.responses import problems
from .db import create_database
from .errors import install_error_handlers
from .middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from .security import create_password_hasher
from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build a new, independent application; nothing is shared between two calls."""
    settings = settings or Settings()
    app = FastAPI(
        title="{{ cookiecutter.project_name }}",
        lifespan=_lifespan,
        # Production serves no interactive docs and no schema unless a setting says so.
        docs_url="/docs" if settings.serves_docs else None,
        redoc_url="/redoc" if settings.serves_redoc else None,
        openapi_url="/openapi.json" if settings.serves_openapi else None,
        # Any request, whatever its route, can be refused for its size.
        responses=problems(413),
    )
    app.state.settings = settings
    app.state.password_hasher = create_password_hasher(settings)
    install_error_handlers(app)
    _install_middleware(app, settings)
    for module in (health, auth, users, items):
        app.include_router(module.router)
    return app


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    """Added innermost first. A request meets: proxy headers (the real client address),
    security headers (on every answer, a 413 too), CORS, then the body size limit."""
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    if settings.sends_security_headers:
        app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxies:
        # Served with --no-proxy-headers (Dockerfile, Makefile): only this setting decides
        # whose X-Forwarded-For to believe; uvicorn's own default would trust 127.0.0.1.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the connection pools on startup and close them on shutdown.

    They are created here, on the running event loop, never at import time: an engine
    made on one loop and used on another fails with "attached to a different loop".
    """
    settings: Settings = app.state.settings
    app.state.database = create_database(settings)
{%- if cookiecutter.use_redis == "y" %}
    app.state.redis = Redis.from_url(settings.redis_url)
{%- endif %}
    try:
        yield
    finally:
        await app.state.database.engine.dispose()
        app.state.database = None
{%- if cookiecutter.use_redis == "y" %}
        await app.state.redis.aclose()
        app.state.redis = None
{%- endif %}
