from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import ConflictError, NotFoundError
from ..models import Item, User


async def list_items(
    session: AsyncSession, owner: User, *, offset: int = 0, limit: int = 50
) -> Sequence[Item]:
    statement = (
        select(Item).where(Item.owner_id == owner.id).order_by(Item.id).offset(offset).limit(limit)
    )
    return (await session.scalars(statement)).all()


async def get_item(session: AsyncSession, owner: User, item_id: int) -> Item:
    item = await session.get(Item, item_id)
    # Someone else's item answers 404, not 403: its existence is not the caller's business.
    if item is None or item.owner_id != owner.id:
        raise NotFoundError(f"Item {item_id} does not exist.")
    return item


async def create_item(
    session: AsyncSession, owner: User, *, title: str, description: str | None
) -> Item:
    item = Item(title=title, description=description, owner_id=owner.id)
    session.add(item)
    await _commit_unique_title(session)
    return item


async def update_item(session: AsyncSession, item: Item, *, changes: dict[str, object]) -> Item:
    for field, value in changes.items():
        setattr(item, field, value)
    await _commit_unique_title(session)
    return item


async def delete_item(session: AsyncSession, item: Item) -> None:
    await session.delete(item)
    await session.commit()


async def _commit_unique_title(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise ConflictError("You already have an item with this title.") from exc
