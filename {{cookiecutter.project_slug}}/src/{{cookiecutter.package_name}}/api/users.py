from fastapi import APIRouter

from ..schemas import UserRead
from .deps import CurrentUser
from .responses import problems

router = APIRouter(prefix="/users", tags=["users"], responses=problems(401))


@router.get("/me")
async def read_me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)
