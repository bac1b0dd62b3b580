from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..limits import ITEM_DESCRIPTION_MAX_LENGTH, ITEM_TITLE_MAX_LENGTH
from .base import Base, TimestampMixin

if TYPE_CHECKING:
    from .user import User


class Item(TimestampMixin, Base):
    __tablename__ = "items"
    # One owner cannot have two items with the same title; the index also serves
    # "items of this owner" lookups (owner_id is its leading column).
    __table_args__ = (UniqueConstraint("owner_id", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(ITEM_TITLE_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(String(ITEM_DESCRIPTION_MAX_LENGTH))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    owner: Mapped["User"] = relationship(back_populates="items", lazy="raise")
