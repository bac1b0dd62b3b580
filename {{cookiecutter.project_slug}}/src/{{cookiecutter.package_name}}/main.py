"""The application factory.

Run with: uvicorn --factory {{ cookiecutter.package_name }}.main:create_app
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
{%- if cookiecutter.use_redis == "y" %}
from redis.asyncio import Redis
{%- endif %}

from .api import auth, health, items, users
from .db import create_database
from .errors import install_error_handlers
from .security import create_password_hasher
from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build a new, independent application; nothing is shared between two calls."""
    settings = settings or Settings()
    app = FastAPI(title="{{ cookiecutter.project_name }}", lifespan=_lifespan)
    app.state.settings = settings
    app.state.password_hasher = create_password_hasher(settings)
    install_error_handlers(app)
    for module in (health, auth, users, items):
        app.include_router(module.router)
    return app


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
