from legacy_app.models.base import Base
from legacy_app.models.user import User

__all__ = ["Base", "User"]
