"""Proofs that the test infrastructure isolates tests and shares one connection with routes."""

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import Base, Item, User

from .factories import ModelFactory, UserFactory
from .sessions import ConcurrentRequestsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_each_table_is_registered_once() -> None:
    assert sorted(Base.metadata.tables) == ["items", "users"]
    assert sorted(mapper.class_.__name__ for mapper in Base.registry.mappers) == ["Item", "User"]


def test_the_project_has_exactly_one_conftest() -> None:
    conftests = [
        path
        for path in PROJECT_ROOT.rglob("conftest.py")
        if ".venv" not in path.parts and "site-packages" not in path.parts
    ]
    assert conftests == [PROJECT_ROOT / "tests" / "conftest.py"]


def test_no_test_module_imports_from_the_conftest() -> None:
    importing = [
        path.name
        for path in (PROJECT_ROOT / "tests").glob("*.py")
        if re.search(r"^from (\.|tests\.)conftest import", path.read_text(), re.MULTILINE)
    ]
    assert importing == []


async def test_a_row_the_test_flushes_is_visible_to_routes(
    auth_client: httpx.AsyncClient, current_user: User, item_factory: ModelFactory[Item]
) -> None:
    item = await item_factory(owner=current_user, title="flushed, not committed")

    response = await auth_client.get(f"/items/{item.id}")

    assert response.status_code == 200
    assert response.json()["title"] == "flushed, not committed"


async def test_a_row_a_route_commits_is_visible_to_the_test(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    response = await client.post(
        "/auth/register", json={"email": "Route.Commit@Example.com", "password": "long enough"}
    )

    assert response.status_code == 201
    user = await db_session.scalar(select(User).where(User.id == response.json()["id"]))
    assert user is not None
    assert user.email == "route.commit@example.com"


@pytest.mark.parametrize("attempt", [1, 2, 3])
async def test_route_commits_do_not_outlive_the_test(
    attempt: int, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # Same email every time: a leaked commit would make every later attempt a 409.
    assert await db_session.scalar(select(func.count()).select_from(User)) == 0

    response = await client.post(
        "/auth/register", json={"email": "same@example.com", "password": "long enough"}
    )

    assert response.status_code == 201, f"attempt {attempt}: {response.text}"


async def test_a_route_rollback_undoes_only_its_own_work(
    client: httpx.AsyncClient, db_session: AsyncSession, user_factory: ModelFactory[User]
) -> None:
    existing = await user_factory(email="taken@example.com")

    response = await client.post(
        "/auth/register", json={"email": "taken@example.com", "password": "long enough"}
    )

    assert response.status_code == 409
    # The route's rollback went back to its savepoint; the test's own rows survive.
    assert await db_session.get(User, existing.id) is existing
    assert await db_session.scalar(select(func.count()).select_from(User)) == 1


async def test_factories_never_repeat_unique_values(
    user_factory: ModelFactory[User], item_factory: ModelFactory[Item]
) -> None:
    users = [await user_factory() for _ in range(5)]
    owner = users[0]
    items = [await item_factory(owner=owner) for _ in range(5)]

    assert len({user.email for user in users}) == 5
    assert len({item.title for item in items}) == 5
    assert all(user.id is not None for user in users)
    assert (await item_factory(owner=owner, title="explicit")).title == "explicit"


async def test_factory_classes_used_directly_write_into_the_test_session(
    db_session: AsyncSession, user_factory: ModelFactory[User]
) -> None:
    users = await UserFactory.create_batch_async(2, hashed_password="not used here")

    assert await db_session.scalar(select(func.count()).select_from(User)) == 2
    assert users[0].email != users[1].email


@pytest.mark.committing
async def test_committing_tests_see_real_commits_from_other_connections(
    client: httpx.AsyncClient, app: FastAPI, db_session: AsyncSession
) -> None:
    # Truncation after every committing test: this table starts empty in any order.
    assert await db_session.scalar(select(func.count()).select_from(User)) == 0

    response = await client.post(
        "/auth/register", json={"email": "committed@example.com", "password": "long enough"}
    )
    assert response.status_code == 201

    async with app.state.database.engine.connect() as other_connection:
        found = await other_connection.scalar(
            select(User.email).where(User.email == "committed@example.com")
        )
    assert found == "committed@example.com"


@pytest.mark.committing
async def test_committing_tests_start_from_empty_tables(
    db_session: AsyncSession, user_factory: ModelFactory[User]
) -> None:
    assert await db_session.scalar(select(func.count()).select_from(User)) == 0
    await user_factory()
    await db_session.commit()


async def test_concurrent_requests_on_the_test_connection_fail_at_once_by_name(
    client: httpx.AsyncClient,
) -> None:
    bodies = [{"email": f"racer{n}@example.com", "password": "long enough"} for n in (1, 2)]

    # return_exceptions: let the request that got the connection finish before teardown.
    results = await asyncio.gather(
        *(client.post("/auth/register", json=body) for body in bodies), return_exceptions=True
    )

    refused = [result for result in results if isinstance(result, ConcurrentRequestsError)]
    assert len(refused) == 1
    assert "@pytest.mark.committing" in str(refused[0])


@pytest.mark.committing
async def test_a_committing_test_can_race_two_identical_requests(
    client: httpx.AsyncClient,
) -> None:
    body = {"email": "raced@example.com", "password": "long enough"}

    first, second = await asyncio.gather(
        client.post("/auth/register", json=body), client.post("/auth/register", json=body)
    )

    assert sorted([first.status_code, second.status_code]) == [201, 409]
