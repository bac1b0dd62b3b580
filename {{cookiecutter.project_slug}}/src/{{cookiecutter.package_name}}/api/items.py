from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from ..db import SessionDep
from ..limits import INT32_MAX
from ..schemas import ItemCreate, ItemRead, ItemUpdate
from ..services import items
from .deps import CurrentUser
from .responses import problems

router = APIRouter(prefix="/items", tags=["items"], responses=problems(401, 422))

# Bounded by what the Integer column (and OFFSET) accept: 2**31 is a 422, not a 500.
ItemId = Annotated[int, Path(ge=1, le=INT32_MAX)]


@router.get("")
async def list_items(
    session: SessionDep,
    user: CurrentUser,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[ItemRead]:
    found = await items.list_items(session, user, offset=offset, limit=limit)
    return [ItemRead.model_validate(item) for item in found]


@router.post("", status_code=status.HTTP_201_CREATED, responses=problems(400, 409))
async def create_item(body: ItemCreate, session: SessionDep, user: CurrentUser) -> ItemRead:
    item = await items.create_item(session, user, title=body.title, description=body.description)
    return ItemRead.model_validate(item)


@router.get("/{item_id}", responses=problems(404))
async def read_item(item_id: ItemId, session: SessionDep, user: CurrentUser) -> ItemRead:
    return ItemRead.model_validate(await items.get_item(session, user, item_id))


@router.patch("/{item_id}", responses=problems(400, 404, 409))
async def update_item(
    item_id: ItemId, body: ItemUpdate, session: SessionDep, user: CurrentUser
) -> ItemRead:
    item = await items.get_item(session, user, item_id)
    changes = body.model_dump(exclude_unset=True)
    return ItemRead.model_validate(await items.update_item(session, item, changes=changes))


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404))
async def delete_item(item_id: ItemId, session: SessionDep, user: CurrentUser) -> None:
    await items.delete_item(session, await items.get_item(session, user, item_id))
