"""Request and response bodies (pydantic); kept apart from the ORM models on purpose."""

from datetime import UTC, datetime
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from .limits import (
    EMAIL_MAX_LENGTH,
    FULL_NAME_MAX_LENGTH,
    ITEM_DESCRIPTION_MAX_LENGTH,
    ITEM_TITLE_MAX_LENGTH,
    NO_NUL_PATTERN,
)


def _normalized_email(value: str) -> str:
    # What pydantic's EmailStr does, except that addresses under the reserved `.test` domain
    # (RFC 6761) are accepted like any other well-formed address: the published schema says
    # `format: email`, and such an address is one. Deliverability is not checked here.
    try:
        return validate_email(value, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from exc


# Stored strings: no longer than their column and free of NUL. pydantic itself refuses lone
# surrogates (which cannot be encoded as UTF-8), so every stored string is storable.
Email = Annotated[
    str,
    Field(max_length=EMAIL_MAX_LENGTH, json_schema_extra={"format": "email"}),
    AfterValidator(_normalized_email),
]
FullName = Annotated[str, Field(max_length=FULL_NAME_MAX_LENGTH, pattern=NO_NUL_PATTERN)]
ItemTitle = Annotated[
    str, Field(min_length=1, max_length=ITEM_TITLE_MAX_LENGTH, pattern=NO_NUL_PATTERN)
]
ItemDescription = Annotated[
    str, Field(max_length=ITEM_DESCRIPTION_MAX_LENGTH, pattern=NO_NUL_PATTERN)
]
# Hashed, never stored as given; bounded so that hashing cost stays bounded too.
Password = Annotated[str, Field(min_length=8, max_length=128)]


def _in_utc(moment: datetime) -> datetime:
    # SQLite hands back its CURRENT_TIMESTAMP (UTC) without an offset; a date-time in the
    # API always has one (RFC 3339), so the answer means the same on every database.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]


class UserCreate(BaseModel):
    email: Email
    password: Password
    full_name: FullName | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: Email
    full_name: str | None
    is_active: bool
    created_at: UtcDatetime


class LoginRequest(BaseModel):
    email: Email
    password: str = Field(min_length=1, max_length=128)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


class ItemCreate(BaseModel):
    title: ItemTitle
    description: ItemDescription | None = None


class ItemUpdate(BaseModel):
    # Optional but not nullable: leaving it out keeps the title, null is an error (the column
    # is NOT NULL). SkipJsonSchema keeps null out of the published schema as well.
    title: ItemTitle | SkipJsonSchema[None] = None
    description: ItemDescription | None = None

    @field_validator("title")
    @classmethod
    def _title_is_not_null(cls, title: str | None) -> str:
        # Validators do not run for defaults: only an explicit null reaches this.
        if title is None:
            raise ValueError("title cannot be null")
        return title


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    owner_id: int
    created_at: UtcDatetime


class HealthRead(BaseModel):
    status: str
    checks: dict[str, str]
