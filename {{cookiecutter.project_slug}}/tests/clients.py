"""HTTP clients for the app under test, as the `client` fixtures build them."""

import httpx
from asgi_lifespan import LifespanManager


def client_for(
    lifespan: LifespanManager, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    """A client that sends requests straight into the app, its lifespan running."""
    # manager.app, not app: lifespan state (`yield {...}`) reaches requests only through it.
    transport = httpx.ASGITransport(app=lifespan.app)
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)
