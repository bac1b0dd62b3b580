from datetime import UTC, datetime, timedelta

import httpx
import jwt
from fastapi import FastAPI

from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.security import PasswordHasher
from {{ cookiecutter.package_name }}.settings import Settings

from .factories import DEFAULT_PASSWORD, ModelFactory

PROBLEM_JSON = "application/problem+json"


async def test_register_creates_a_user(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        json={"email": "new@example.com", "password": "long enough", "full_name": "New"},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new@example.com"
    assert body["full_name"] == "New"
    assert "password" not in str(body)


async def test_register_rejects_a_taken_email_as_conflict(
    client: httpx.AsyncClient, user_factory: ModelFactory[User]
) -> None:
    user = await user_factory()

    response = await client.post(
        "/auth/register", json={"email": user.email.upper(), "password": "long enough"}
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["title"] == "Conflict"


async def test_register_validates_its_input(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/register", json={"email": "nope", "password": "short"})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 422
    assert {tuple(error["loc"]) for error in problem["errors"]} == {
        ("body", "email"),
        ("body", "password"),
    }


async def test_login_returns_a_token_that_authenticates(
    client: httpx.AsyncClient, user_factory: ModelFactory[User]
) -> None:
    user = await user_factory()

    login = await client.post(
        "/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200
    token = login.json()["access_token"]

    me = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["id"] == user.id


async def test_login_rejects_a_wrong_password(
    client: httpx.AsyncClient, user_factory: ModelFactory[User]
) -> None:
    user = await user_factory()

    response = await client.post(
        "/auth/login", json={"email": user.email, "password": "not the password"}
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "Incorrect email or password."


async def test_login_gives_unknown_emails_the_same_answer(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": "whatever"}
    )

    assert response.status_code == 401
    assert response.json()["detail"] == "Incorrect email or password."


class RecordingHasher(PasswordHasher):
    """The app's real hasher, remembering which hash each verification was against."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            time_cost=settings.password_hash_time_cost,
            memory_cost_kib=settings.password_hash_memory_cost_kib,
            parallelism=settings.password_hash_parallelism,
        )
        self.verified_against: list[str] = []

    def verify(self, password: str, hashed: str) -> bool:
        self.verified_against.append(hashed)
        return super().verify(password, hashed)


def argon2_cost(hashed: str) -> str:
    """`m=...,t=...,p=...` of an encoded argon2 hash: what one verification costs."""
    return hashed.split("$")[3]


async def test_an_unknown_email_costs_the_same_work_as_a_wrong_password(
    app: FastAPI,
    client: httpx.AsyncClient,
    user_factory: ModelFactory[User],
    test_settings: Settings,
) -> None:
    hasher = RecordingHasher(test_settings)
    app.state.password_hasher = hasher
    user = await user_factory()

    wrong_password = await client.post(
        "/auth/login", json={"email": user.email, "password": "not the password"}
    )
    unknown_email = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": "not the password"}
    )

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]
    # One verification each, against hashes of the same cost: the time does not tell.
    assert hasher.verified_against == [user.hashed_password, hasher.dummy_hash]
    assert argon2_cost(hasher.dummy_hash) == argon2_cost(user.hashed_password)
    assert argon2_cost(hasher.dummy_hash) == (
        f"m={test_settings.password_hash_memory_cost_kib},"
        f"t={test_settings.password_hash_time_cost},"
        f"p={test_settings.password_hash_parallelism}"
    )


async def test_inactive_users_cannot_log_in(
    client: httpx.AsyncClient, user_factory: ModelFactory[User]
) -> None:
    user = await user_factory(is_active=False)

    response = await client.post(
        "/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 401


async def test_me_returns_the_authenticated_user(
    auth_client: httpx.AsyncClient, current_user: User
) -> None:
    response = await auth_client.get("/users/me")

    assert response.status_code == 200
    assert response.json()["email"] == current_user.email


async def test_me_requires_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/me")

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_me_rejects_a_forged_token(client: httpx.AsyncClient) -> None:
    forged = jwt.encode({"sub": "1", "exp": datetime.now(UTC) + timedelta(minutes=5)}, "x" * 32)

    response = await client.get("/users/me", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401


async def test_me_rejects_an_expired_token(
    client: httpx.AsyncClient, current_user: User, test_settings: Settings
) -> None:
    expired = jwt.encode(
        {"sub": str(current_user.id), "exp": datetime.now(UTC) - timedelta(seconds=1)},
        test_settings.secret_key.get_secret_value(),
        algorithm="HS256",
    )

    response = await client.get("/users/me", headers={"Authorization": f"Bearer {expired}"})

    assert response.status_code == 401
