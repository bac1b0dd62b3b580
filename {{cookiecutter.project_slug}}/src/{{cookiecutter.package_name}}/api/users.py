from fastapi import APIRouter

from ..schemas import UserRead
from .deps import CurrentUser

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
async def read_me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)
