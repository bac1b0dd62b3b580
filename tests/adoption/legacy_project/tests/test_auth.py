from legacy_app.deps import get_current_user, oauth2_scheme
from legacy_app.main import app
from legacy_app.models import User

from .conftest import SEED_EMAIL, SEED_PASSWORD


def login(client, email, password):
    return client.post("/auth/login", data={"username": email, "password": password})


def test_register(client):
    response = client.post("/auth/register", json={"email": "new@example.com", "password": "secret-password"})
    assert response.status_code in (201, 409)


def test_login(client, seed_user):
    response = login(client, SEED_EMAIL, SEED_PASSWORD)
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_change_password(client, seed_user):
    token = login(client, SEED_EMAIL, SEED_PASSWORD).json()["access_token"]
    response = client.post(
        "/users/me/password",
        json={"old_password": SEED_PASSWORD, "new_password": "a-new-password"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert login(client, SEED_EMAIL, "a-new-password").status_code == 200


def test_me_with_mocked_user(client):
    app.dependency_overrides[get_current_user] = lambda: User(id=1, email="mock@example.com", full_name="Mock")
    response = client.get("/users/me")
    app.dependency_overrides.clear()
    assert response.json()["email"] == "mock@example.com"


def test_me_with_patched_jwt_decoding(client, seed_user, monkeypatch):
    app.dependency_overrides[oauth2_scheme] = lambda: "any-token"
    monkeypatch.setattr("legacy_app.deps.jwt.decode", lambda *args, **kwargs: {"sub": str(seed_user), "jti": "x"})
    response = client.get("/users/me")
    app.dependency_overrides.clear()
    assert response.json()["email"] == SEED_EMAIL


def test_logout_revokes_the_token(client, seed_user):
    token = login(client, SEED_EMAIL, SEED_PASSWORD).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/auth/logout", headers=headers).status_code == 204
    assert client.get("/users/me", headers=headers).status_code == 401
