from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..limits import EMAIL_MAX_LENGTH, FULL_NAME_MAX_LENGTH, PASSWORD_HASH_MAX_LENGTH
from .base import Base, TimestampMixin

if TYPE_CHECKING:
    from .item import Item


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased by the service layer, so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(PASSWORD_HASH_MAX_LENGTH))
    full_name: Mapped[str | None] = mapped_column(String(FULL_NAME_MAX_LENGTH))
    is_active: Mapped[bool] = mapped_column(default=True)

    # lazy="raise": an accidental lazy load is an error, not a hidden query (or MissingGreenlet).
    items: Mapped[list["Item"]] = relationship(
        back_populates="owner", lazy="raise", passive_deletes=True
    )
