import httpx
import pytest

from {{ cookiecutter.package_name }}.models import Item, User

from .factories import ModelFactory
from .queries import QueryCounter


async def test_create_item(auth_client: httpx.AsyncClient, current_user: User) -> None:
    response = await auth_client.post("/items", json={"title": "Pen", "description": "Blue"})

    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "Pen"
    assert body["owner_id"] == current_user.id


async def test_a_duplicate_title_for_the_same_owner_is_a_conflict(
    auth_client: httpx.AsyncClient, current_user: User, item_factory: ModelFactory[Item]
) -> None:
    await item_factory(owner=current_user, title="Pen")

    response = await auth_client.post("/items", json={"title": "Pen"})

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


async def test_two_owners_may_use_the_same_title(
    auth_client: httpx.AsyncClient, item_factory: ModelFactory[Item]
) -> None:
    await item_factory(title="Pen")  # someone else's

    response = await auth_client.post("/items", json={"title": "Pen"})

    assert response.status_code == 201


async def test_list_returns_only_own_items_in_a_bounded_number_of_queries(
    auth_client: httpx.AsyncClient,
    current_user: User,
    item_factory: ModelFactory[Item],
    assert_max_queries: QueryCounter,
) -> None:
    mine = [await item_factory(owner=current_user) for _ in range(5)]
    await item_factory()  # someone else's

    # User lookup + one SELECT, however many items: an N+1 would exceed this.
    with assert_max_queries(2):
        response = await auth_client.get("/items")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [item.id for item in mine]


async def test_list_pages_through_items(
    auth_client: httpx.AsyncClient, current_user: User, item_factory: ModelFactory[Item]
) -> None:
    mine = [await item_factory(owner=current_user) for _ in range(3)]

    response = await auth_client.get("/items", params={"offset": 1, "limit": 1})

    assert [item["id"] for item in response.json()] == [mine[1].id]


async def test_list_validates_paging(auth_client: httpx.AsyncClient) -> None:
    response = await auth_client.get("/items", params={"limit": 0})

    assert response.status_code == 422


async def test_read_update_delete_own_item(
    auth_client: httpx.AsyncClient, current_user: User, item_factory: ModelFactory[Item]
) -> None:
    item = await item_factory(owner=current_user)

    read = await auth_client.get(f"/items/{item.id}")
    assert read.status_code == 200
    assert read.json()["title"] == item.title

    updated = await auth_client.patch(f"/items/{item.id}", json={"title": "Renamed"})
    assert updated.status_code == 200
    assert updated.json()["title"] == "Renamed"

    deleted = await auth_client.delete(f"/items/{item.id}")
    assert deleted.status_code == 204
    assert (await auth_client.get(f"/items/{item.id}")).status_code == 404


@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PATCH", {"title": "Mine now"}), ("DELETE", None)]
)
async def test_other_peoples_items_do_not_exist_for_you(
    method: str,
    body: dict[str, str] | None,
    auth_client: httpx.AsyncClient,
    item_factory: ModelFactory[Item],
) -> None:
    foreign = await item_factory()

    response = await auth_client.request(method, f"/items/{foreign.id}", json=body)

    assert response.status_code == 404
    assert response.json()["detail"] == f"Item {foreign.id} does not exist."


async def test_items_require_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get("/items")

    assert response.status_code == 401


async def test_item_validation_errors_are_problem_details(
    auth_client: httpx.AsyncClient,
) -> None:
    response = await auth_client.post("/items", json={"title": ""})

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "title"]


async def test_unknown_routes_are_problem_details(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-route")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "instance": "/no-such-route",
    }
