"""Input the database cannot store, or the server should not read, is refused with a 4xx
problem before it reaches the database, and changes nothing."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.limits import (
    FULL_NAME_MAX_LENGTH,
    INT32_MAX,
    ITEM_DESCRIPTION_MAX_LENGTH,
    ITEM_TITLE_MAX_LENGTH,
)
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import Item, User
from {{ cookiecutter.package_name }}.settings import Settings

from .factories import ModelFactory

PROBLEM_JSON = "application/problem+json"
NUL = "\x00"


async def count_rows(session: AsyncSession, model: type[Item] | type[User]) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


@pytest.mark.parametrize(
    "body",
    [
        {"title": f"Pen{NUL}"},
        {"title": "Pen", "description": f"Blue{NUL}ink"},
        {"title": "x" * (ITEM_TITLE_MAX_LENGTH + 1)},
        {"title": "Pen", "description": "x" * (ITEM_DESCRIPTION_MAX_LENGTH + 1)},
    ],
    ids=["nul-in-title", "nul-in-description", "long-title", "long-description"],
)
async def test_unstorable_item_strings_are_422(
    auth_client: httpx.AsyncClient, db_session: AsyncSession, body: dict[str, str]
) -> None:
    response = await auth_client.post("/items", json=body)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"][0] == "body"
    assert await count_rows(db_session, Item) == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"title": f"Pen{NUL}"},
        {"description": f"Blue{NUL}"},
        {"title": "x" * (ITEM_TITLE_MAX_LENGTH + 1)},
        # The column is NOT NULL: an explicit null is invalid input, not a conflict.
        {"title": None},
    ],
    ids=["nul-in-title", "nul-in-description", "long-title", "null-title"],
)
async def test_unstorable_item_changes_are_422_and_change_nothing(
    auth_client: httpx.AsyncClient,
    current_user: User,
    item_factory: ModelFactory[Item],
    db_session: AsyncSession,
    changes: dict[str, str | None],
) -> None:
    item = await item_factory(owner=current_user, title="Pen", description="Blue")

    response = await auth_client.patch(f"/items/{item.id}", json=changes)

    problem = assert_problem(response, 422)
    # A union's errors name the branch too: ["body", "title", "constrained-str"].
    assert problem["errors"][0]["loc"][:2] == ["body", next(iter(changes))]
    await db_session.refresh(item)
    assert (item.title, item.description) == ("Pen", "Blue")


async def test_unstorable_registrations_are_422(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    for full_name in (f"Ada{NUL}", "x" * (FULL_NAME_MAX_LENGTH + 1)):
        response = await client.post(
            "/auth/register",
            json={"email": "ada@example.com", "password": "long enough", "full_name": full_name},
        )
        assert_problem(response, 422)
    assert await count_rows(db_session, User) == 0


async def test_a_lone_surrogate_is_422(auth_client: httpx.AsyncClient) -> None:
    # Valid JSON, but not encodable as UTF-8: no database could store it.
    response = await auth_client.post(
        "/items", content=b'{"title": "\\ud800"}', headers={"content-type": "application/json"}
    )

    assert_problem(response, 422)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("item_id", [0, -1, INT32_MAX + 1, 2**63])
async def test_item_ids_outside_the_column_range_are_422(
    auth_client: httpx.AsyncClient, method: str, item_id: int
) -> None:
    body = {"title": "Pen"} if method == "PATCH" else None

    response = await auth_client.request(method, f"/items/{item_id}", json=body)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["path", "item_id"]


@pytest.mark.parametrize("offset", [-1, INT32_MAX + 1, 2**63])
async def test_offsets_outside_the_range_are_422(
    auth_client: httpx.AsyncClient, offset: int
) -> None:
    response = await auth_client.get("/items", params={"offset": offset})

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["query", "offset"]


async def test_the_largest_id_is_an_ordinary_404(auth_client: httpx.AsyncClient) -> None:
    response = await auth_client.get(f"/items/{INT32_MAX}")

    assert_problem(response, 404)


async def test_a_body_over_the_limit_is_413_before_it_is_read(
    auth_client: httpx.AsyncClient, db_session: AsyncSession, test_settings: Settings
) -> None:
    oversized = b'{"title": "Pen", "description": "' + b"x" * test_settings.max_request_body_bytes
    response = await auth_client.post(
        "/items", content=oversized, headers={"content-type": "application/json"}
    )

    problem = assert_problem(response, 413)
    assert problem["detail"] == "The request body is too large."
    assert await count_rows(db_session, Item) == 0


async def test_a_streamed_body_over_the_limit_is_413(
    auth_client: httpx.AsyncClient, db_session: AsyncSession, test_settings: Settings
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit is enforced while the body arrives.
        yield b'{"title": "Pen", "description": "'
        for _ in range(test_settings.max_request_body_bytes // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    response = await auth_client.post(
        "/items", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert await count_rows(db_session, Item) == 0


async def test_the_body_limit_is_a_setting(test_settings: Settings) -> None:
    app = create_app(test_settings.model_copy(update={"max_request_body_bytes": 64}))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/auth/register",
                json={"email": "a-long-address@example.com", "password": "long enough password"},
            )

    assert_problem(response, 413)
