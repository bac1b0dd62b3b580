from typing import Annotated

from fastapi import APIRouter, Query, status

from ..db import SessionDep
from ..schemas import ItemCreate, ItemRead, ItemUpdate
from ..services import items
from .deps import CurrentUser

router = APIRouter(prefix="/items", tags=["items"])


@router.get("")
async def list_items(
    session: SessionDep,
    user: CurrentUser,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[ItemRead]:
    found = await items.list_items(session, user, offset=offset, limit=limit)
    return [ItemRead.model_validate(item) for item in found]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_item(body: ItemCreate, session: SessionDep, user: CurrentUser) -> ItemRead:
    item = await items.create_item(session, user, title=body.title, description=body.description)
    return ItemRead.model_validate(item)


@router.get("/{item_id}")
async def read_item(item_id: int, session: SessionDep, user: CurrentUser) -> ItemRead:
    return ItemRead.model_validate(await items.get_item(session, user, item_id))


@router.patch("/{item_id}")
async def update_item(
    item_id: int, body: ItemUpdate, session: SessionDep, user: CurrentUser
) -> ItemRead:
    item = await items.get_item(session, user, item_id)
    changes = body.model_dump(exclude_unset=True)
    return ItemRead.model_validate(await items.update_item(session, item, changes=changes))


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(item_id: int, session: SessionDep, user: CurrentUser) -> None:
    await items.delete_item(session, await items.get_item(session, user, item_id))
