import jwt
from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import select

from legacy_app.database import get_session
from legacy_app.deps import get_current_user, oauth2_scheme
from legacy_app.models import User
from legacy_app.models.token import TokenBlacklist
from legacy_app.security import ALGORITHM, SECRET_KEY, create_access_token, pwd_context

router = APIRouter()


class Registration(BaseModel):
    email: str
    password: str
    full_name: str = ""


class PasswordChange(BaseModel):
    old_password: str
    new_password: str


@router.post("/auth/register", status_code=201)
async def register(body: Registration, session=Depends(get_session)):
    if await session.scalar(select(User).where(User.email == body.email)) is not None:
        raise HTTPException(status_code=409, detail="Email already registered")
    user = User(email=body.email, full_name=body.full_name, hashed_password=pwd_context.hash(body.password))
    session.add(user)
    await session.flush()
    return {"id": user.id, "email": user.email}


@router.post("/auth/login")
async def login(form: OAuth2PasswordRequestForm = Depends(), session=Depends(get_session)):
    user = await session.scalar(select(User).where(User.email == form.username))
    if user is None or not pwd_context.verify(form.password, user.hashed_password):
        raise HTTPException(status_code=401, detail="Wrong email or password")
    return {"access_token": create_access_token(user.id), "token_type": "bearer"}


@router.post("/auth/logout", status_code=204)
async def logout(token=Depends(oauth2_scheme), user=Depends(get_current_user), session=Depends(get_session)):
    claims = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
    session.add(TokenBlacklist(jti=claims["jti"]))


@router.get("/users/me")
async def me(user=Depends(get_current_user)):
    return {"id": user.id, "email": user.email, "full_name": user.full_name}


@router.post("/users/me/password")
async def change_password(body: PasswordChange, user=Depends(get_current_user)):
    if not pwd_context.verify(body.old_password, user.hashed_password):
        raise HTTPException(status_code=400, detail="Wrong password")
    user.hashed_password = pwd_context.hash(body.new_password)
    return {"detail": "Password changed"}
